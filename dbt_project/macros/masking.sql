{#- Personal-data minimisation: identifiers and names of natural persons leave
    the raw staging schema only masked.
    certno: first 6 (region) and last 4 characters kept, 330203********123X;
    shorter values than 11 characters are masked whole. -#}
{% macro mask_certno(column) -%}
    case
        when nullif(trim({{ column }}), '') is null then null
        when char_length(trim({{ column }})) > 10
            then left(upper(trim({{ column }})), 6)
            || repeat('*', char_length(trim({{ column }})) - 10)
            || right(upper(trim({{ column }})), 4)
        else repeat('*', char_length(trim({{ column }})))
    end
{%- endmacro %}

{#- Names: first character kept, the rest one star per character, 张三 -> 张*,
    欧阳娜娜 -> 欧***; a one-character name becomes a single star. -#}
{% macro mask_name(column) -%}
    case
        when nullif(trim({{ column }}), '') is null then null
        when char_length(trim({{ column }})) = 1 then '*'
        else left(trim({{ column }}), 1) || repeat('*', char_length(trim({{ column }})) - 1)
    end
{%- endmacro %}
