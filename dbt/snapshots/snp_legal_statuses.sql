{% snapshot snp_legal_statuses %}
{{ config(unique_key='legal_status_id', post_hook=["{{ snapshot_indexes('legal_status_id') }}"]) }}
{{ snapshot_changes('stg_cpin__legal_statuses', 'legal_status', 'legal_status_id') }}
{% endsnapshot %}
