-- Hand-made raw rows for the dbt tests: two agencies, nine children, every edge case the
-- indicators name (short stay, 18th birthday, long trial home visit, re-entry, runaway, respite),
-- a soft-deleted and a hard-deleted row. Expected values are worked out by hand in
-- tests/test_dbt_warehouse.py. As-of date (latest updated_at): 2024-06-30.
-- Timestamps default through the tables' column defaults set by the test (updated_at 2024-06-30).

insert into raw.agency (agency_id, agency_code, name, region, joined_on, migration_wave) values
 (1, 'CAS-A', 'Children''s Aid Society A', 'East', '2019-01-01', 1),
 (2, 'CAS-B', 'Children''s Aid Society B', 'Toronto', '2019-01-01', 1);

insert into raw.postal_region (fsa, city, region) values
 ('K1A', 'Ottawa', 'East'), ('M5V', 'Toronto', 'Toronto'), ('M4C', 'Toronto', 'Toronto');

insert into raw.office (office_id, agency_id, name, city) values
 (10, 1, 'A main', 'Ottawa'), (20, 2, 'B main', 'Toronto');

insert into raw.worker (worker_id, agency_id, office_id, given_name, surname, role_code, supervisor_id, hired_on) values
 (100, 1, 10, 'Sue', 'Pervisor', 'SUP', null, '2015-01-01'),
 (101, 1, 10, 'Carl', 'Worker', 'CW', 100, '2016-01-01'),
 (200, 2, 20, 'Sam', 'Boss', 'SUP', null, '2015-01-01'),
 (201, 2, 20, 'Cara', 'Helper', 'CW', 200, '2016-01-01');

insert into raw.person (person_id, agency_id, given_name, surname, birth_date, sex_code, indigenous_code, source_code) values
 (1001, 1, 'Ava', 'One', '2010-05-01', 'F', 'NON', 'CPIN'),
 (1002, 1, 'Ben', 'Two', '2006-10-01', 'M', 'FN', 'CPIN'),
 (1003, 1, 'Cal', 'Three', '2015-01-01', 'M', 'NON', 'CPIN'),
 (1004, 1, 'Dot', 'Four', '2012-03-03', 'F', 'NON', 'CPIN'),
 (1005, 1, 'Eli', 'Five', '2005-07-01', 'M', 'MET', 'CPIN'),
 (1006, 1, 'Fay', 'Six', '2011-01-01', 'F', 'NON', 'CPIN'),
 (1007, 1, 'Gus', 'Seven', '2006-01-15', 'M', 'NON', 'CPIN'),
 (1100, 1, 'Pat', 'Parent', '1985-01-01', 'F', 'NON', 'CPIN'),
 (2001, 2, 'Hal', 'Eight', '2013-02-02', 'M', 'NON', 'CPIN'),
 (2002, 2, 'Ivy', 'Nine', '2016-06-06', 'F', 'INU', 'CPIN'),
 (2003, 2, 'Jo', 'Ten', '2012-12-12', 'X', 'UNK', 'MIG');

insert into raw.person_address (address_id, person_id, street, city, postal_code, start_date, end_date) values
 (1, 2002, '1 Home St', 'Toronto', 'M4C 1A1', '2016-06-06', null),
 (2, 1001, '9 Old Rd', 'Ottawa', 'K1A 0B1', '2010-05-01', null);

insert into raw."case" (case_id, agency_id, case_type_code, parent_case_id, opened_on, closed_on, close_reason_code, primary_worker_id) values
 (3000, 1, 'PROT', null, '2019-06-01', null, null, 101),
 (3010, 1, 'PROT', null, '2023-12-15', null, null, 101),
 (3001, 1, 'CIC', 3000, '2020-01-01', null, null, 101),
 (3002, 1, 'CIC', 3000, '2022-01-01', null, null, 101),
 (3003, 1, 'CIC', 3000, '2023-05-01', '2023-09-01', 'REU', 101),
 (3004, 1, 'CIC', 3000, '2024-02-01', null, null, 101),
 (3005, 1, 'CIC', 3000, '2023-06-01', '2023-06-05', 'REU', 101),
 (3006, 1, 'CIC', 3000, '2023-07-01', '2024-01-01', 'AGE', 101),
 (3007, 1, 'CIC', 3000, '2023-04-10', '2024-05-01', 'REU', 101),
 (3008, 1, 'CIC', 3000, '2023-10-01', '2024-02-01', 'REU', 101),
 (4000, 2, 'PROT', null, '2019-06-01', null, null, 201),
 (4001, 2, 'CIC', 4000, '2023-08-01', null, null, 201),
 (4002, 2, 'CIC', 4000, '2024-01-15', null, null, 201),
 (4003, 2, 'CIC', 4000, '2021-01-01', '2022-01-01', 'ADO', 201);

insert into raw.case_participant (case_id, person_id, role_code, start_date) values
 (3000, 1100, 'CARE', '2019-06-01'), (3001, 1001, 'CHILD', '2020-01-01'), (4001, 2001, 'CHILD', '2023-08-01');

insert into raw.worker_assignment (assignment_id, worker_id, case_id, role_code, start_date, end_date) values
 (1, 101, 3001, 'PRI', '2020-01-01', null),
 (2, 101, 3002, 'PRI', '2022-01-01', null),
 (3, 101, 3004, 'PRI', '2024-02-01', null),
 (4, 201, 4001, 'PRI', '2023-08-01', null),
 (5, 201, 4002, 'PRI', '2024-01-15', null),
 (6, 101, 3000, 'PRI', '2019-06-01', null),
 (7, 201, 4000, 'PRI', '2019-06-01', null);

insert into raw.referral (referral_id, agency_id, case_id, received_at, referral_source_code, allegation_code, screening_code, primary_person_id, intake_worker_id) values
 (1, 1, 3000, '2023-04-01 09:00+00', 'SCH', 'NEG', 'SI', 1100, 101),
 (2, 1, 3000, '2023-09-01 09:00+00', 'POL', 'PHY', 'SI', 1100, 101),
 (3, 2, 4000, '2023-06-01 09:00+00', 'HLT', 'EMO', 'SI', null, 201),
 (4, 1, 3010, '2024-01-01 09:00+00', 'COM', 'NEG', 'SI', null, 101),
 (5, 1, 3010, '2024-03-01 09:00+00', 'FAM', 'NEG', 'SI', null, 101),
 (6, 1, 3000, '2024-06-20 09:00+00', 'SCH', 'NEG', 'SI', 1100, 101);

insert into raw.investigation (investigation_id, referral_id, agency_id, case_id, worker_id, opened_on, due_on, closed_on, outcome_code, ongoing_services) values
 (1, 1, 1, 3000, 101, '2023-04-01', '2023-05-01', '2023-05-01', 'NVER', false),
 (2, 2, 1, 3000, 101, '2023-09-01', '2023-10-01', '2023-09-20', 'VER', true),
 (3, 3, 2, 4000, 201, '2023-06-01', '2023-07-01', '2023-07-01', 'INC', false),
 (4, 4, 1, 3010, 101, '2024-01-01', '2024-01-31', '2024-02-01', 'NVER', false),
 (5, 5, 1, 3010, 101, '2024-03-01', '2024-03-31', '2024-03-20', 'NVER', false),
 (6, 6, 1, 3000, 101, '2024-05-01', '2024-05-31', null, null, null);

insert into raw.legal_status (legal_status_id, person_id, agency_id, status_code, start_date, end_date) values
 (1, 1001, 1, 'ESC', '2020-01-01', null),
 (2, 1002, 1, 'TC', '2022-01-01', null),
 (3, 1003, 1, 'INT', '2024-02-01', null),
 (4, 2001, 2, 'INT', '2023-08-01', null),
 (5, 2002, 2, 'VCA', '2024-01-15', null);

insert into raw.provider (provider_id, agency_id, provider_type_code, name, street, city, postal_code, capacity, per_diem, opened_on) values
 (501, 1, 'FOS', 'Foster A1', '5 Maple Ave', 'Ottawa', 'K1A 0A1', 1, 50.00, '2015-01-01'),
 (502, 1, 'GH', 'Group home A', '7 Oak St', 'Ottawa', 'K1A 0A2', 6, 300.00, '2015-01-01'),
 (507, 1, 'FOS', 'Foster A2', '8 Elm St', 'Ottawa', 'K1A 0A3', 2, 50.00, '2015-01-01'),
 (503, 2, 'KIN', 'Kin B1', '3 Bay St', 'Toronto', 'M5V 1B1', 2, 40.00, '2015-01-01'),
 (504, 2, 'FOS', 'Respite B', '4 Bay St', 'Toronto', 'M5V 1B2', 2, 60.00, '2015-01-01'),
 (505, 2, 'GH', 'Group home B', null, 'Toronto', null, 8, 320.00, '2015-01-01'),
 (506, 2, 'FOS', 'Foster B2', '6 King St', 'Toronto', 'M5V 1B3', 3, 55.00, '2015-01-01');

insert into raw.placement (placement_id, person_id, agency_id, case_id, provider_id, placement_type_code, start_date, end_date, end_reason_code) values
 (1, 1001, 1, 3001, 501, 'FOS', '2020-01-01', null, null),
 (2, 1002, 1, 3002, 502, 'GH', '2022-01-01', null, null),
 (3, 1003, 1, 3003, 501, 'FOS', '2023-05-01', '2023-09-01', 'REU'),
 (4, 1003, 1, 3004, 501, 'FOS', '2024-02-01', null, null),
 (5, 1004, 1, 3005, 501, 'FOS', '2023-06-01', '2023-06-05', 'REU'),
 (6, 1005, 1, 3006, 502, 'GH', '2023-07-01', '2024-01-01', 'AGE'),
 (7, 1006, 1, 3007, 507, 'FOS', '2023-04-10', '2023-12-01', 'MOV'),
 (8, 1006, 1, 3007, null, 'THV', '2023-12-01', '2024-05-01', 'REU'),
 (9, 1007, 1, 3008, 507, 'FOS', '2023-10-01', '2024-02-01', 'REU'),
 (11, 2001, 2, 4001, 503, 'KIN', '2023-08-01', '2023-10-01', 'MOV'),
 (12, 2001, 2, 4001, null, 'RUN', '2023-10-01', '2023-10-05', 'MOV'),
 (13, 2001, 2, 4001, 503, 'KIN', '2023-10-05', '2024-01-10', 'MOV'),
 (14, 2001, 2, 4001, 504, 'RES', '2024-01-10', '2024-01-12', 'MOV'),
 (15, 2001, 2, 4001, 503, 'KIN', '2024-01-12', '2024-03-01', 'MOV'),
 (16, 2001, 2, 4001, 505, 'GH', '2024-03-01', null, null),
 (17, 2002, 2, 4002, 506, 'FOS', '2024-01-15', '2024-06-01', 'MOV'),
 (18, 2002, 2, 4002, null, 'THV', '2024-06-01', null, null),
 (19, 2003, 2, 4003, 506, 'PAD', '2021-01-01', '2022-01-01', 'ADO');
-- Deleted rows the warehouse must ignore: a hard-deleted and a soft-deleted second open placement.
insert into raw.placement (placement_id, person_id, agency_id, case_id, provider_id, placement_type_code, start_date, end_date, end_reason_code, _deleted) values
 (90, 1001, 1, 3001, 502, 'GH', '2024-01-01', null, null, true);
insert into raw.placement (placement_id, person_id, agency_id, case_id, provider_id, placement_type_code, start_date, end_date, end_reason_code, is_deleted) values
 (91, 2001, 2, 4001, 506, 'FOS', '2024-04-01', null, null, true);

insert into raw.payment (payment_id, agency_id, person_id, provider_id, placement_id, category_code, service_from, service_to, amount, status_code, requested_on, approved_on, paid_on) values
 (1, 1, 1001, 501, 1, 'PDM', '2024-05-01', '2024-05-31', 1550.00, 'PAID', '2024-06-01', '2024-06-02', '2024-06-05'),
 (2, 1, 1002, 502, 2, 'PDM', '2024-05-01', '2024-05-31', 9300.00, 'APP', '2024-06-01', '2024-06-03', null),
 (3, 1, 1001, null, 1, 'CLO', '2024-05-10', '2024-05-10', 120.00, 'REQ', '2024-06-10', null, null),
 (4, 2, 2001, 505, 16, 'PDM', '2024-05-01', '2024-05-31', 9920.00, 'PAID', '2024-06-01', '2024-06-02', '2024-06-04'),
 (5, 2, 2001, null, 16, 'EDU', '2024-05-15', '2024-05-15', 80.00, 'VOID', '2024-05-20', null, null);

insert into raw.contact_note (contact_note_id, agency_id, case_id, person_id, worker_id, contact_at, contact_type_code, location_code, duration_minutes, note_text) values
 (1, 1, 3001, 1001, 101, '2024-06-20 10:00+00', 'INP', 'PLC', 45, 'visit'),
 (2, 1, 3002, 1002, 101, '2024-04-01 10:00+00', 'PHN', null, 10, 'call'),
 (3, 2, 4001, 2001, 201, '2024-06-25 10:00+00', 'INP', 'PLC', 30, 'visit'),
 (4, 2, 4002, null, 201, '2024-06-28 10:00+00', 'VID', 'HOM', 20, 'family call');
