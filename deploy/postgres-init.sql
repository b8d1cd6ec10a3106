-- One PostgreSQL server, two databases: the companion's ledger and LiteLLM's own tables.
CREATE DATABASE litellm;
