{#- Business invariant: column_name is not earlier than start_column
    (e.g. a stay ends on or after the day it begins); NULLs pass. -#}
{% test not_before(model, column_name, start_column) %}

select
    {{ start_column }} as start_value,
    {{ column_name }} as end_value
from {{ model }}
where {{ column_name }} < {{ start_column }}

{% endtest %}
