"""Warehouse connection, embedded PostgreSQL and database setup (one concern: where the data lives)."""
