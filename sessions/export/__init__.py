"""Using a trained run outside the lab: predict, evaluate, export."""
