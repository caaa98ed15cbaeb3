"""The `sift` command line: thin argparse front end over the Workspace API."""
