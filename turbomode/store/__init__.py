"""The database. Only this package writes SQL."""
