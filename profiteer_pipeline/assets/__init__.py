"""Asset modules, each named for the part of the flow it holds; definitions.py loads them all."""
