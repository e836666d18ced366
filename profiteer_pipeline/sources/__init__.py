"""Where sales come from. `files/`: a real shop's order export, from file to the warehouse."""
