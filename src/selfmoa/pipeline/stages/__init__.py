"""Loop stages as pure functions from records to records; the loop does all file I/O."""
