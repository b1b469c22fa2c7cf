{% snapshot snp_person_addresses %}
{{ config(unique_key='address_id', post_hook=["{{ snapshot_indexes('address_id') }}"]) }}
{{ snapshot_changes('stg_cpin__person_addresses', 'person_address', 'address_id') }}
{% endsnapshot %}
