from flygnn.cli import entry

entry()
