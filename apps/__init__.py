"""The services: HTTP glue per framework (frameworks/), data access per variant (access/)."""
