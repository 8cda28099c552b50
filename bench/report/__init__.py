"""The ladder report: every kernel against the slowest, the reference kernel and the roofline."""
