"""Ray engine for lmrepro's dclm-baseline data stages (see docs/scale-out.md)."""
