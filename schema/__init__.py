"""The JSON Schema of the report (data; `forkwise schema --check` keeps it in step with the models)."""
