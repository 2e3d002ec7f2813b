"""Search: the filter grammar (§5.2), natural-order sort keys (§5.4) and the SQL engine."""
