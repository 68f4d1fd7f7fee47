"""What tests import: running invoke, a served sandbox, fake and reference servers, and
the code child processes run."""
