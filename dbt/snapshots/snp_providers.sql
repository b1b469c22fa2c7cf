{% snapshot snp_providers %}
{{ config(unique_key='provider_id', post_hook=["{{ snapshot_indexes('provider_id') }}"]) }}
{{ snapshot_changes('stg_cpin__providers', 'provider', 'provider_id') }}
{% endsnapshot %}
