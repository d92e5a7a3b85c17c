"""Edge: the ``medtwin`` command line (typer), a thin layer over the library."""
