"""The suite: a folder for each folder of the package, and end_to_end/ for the whole system."""
