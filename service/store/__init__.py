"""PostgreSQL adapter: tables, the unit of work, repositories, the embedded server."""
