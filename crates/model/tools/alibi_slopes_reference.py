#!/usr/bin/env python3
"""Prints the ALiBi slopes of Megatron-DeepSpeed (bigscience-workshop/Megatron-DeepSpeed,
`megatron/model/utils.py::get_slopes`, the code BLOOM was trained with) as Rust f64 literals, for the
112-head test in `crates/model/src/alibi.rs`.

The function is restated here from the reference (standard library only):

    def get_slopes(n):
        def get_slopes_power_of_2(n):
            start = (2 ** (-2 ** -(math.log2(n) - 3)))
            ratio = start
            return [start * ratio ** i for i in range(n)]
        if math.log2(n).is_integer():
            return get_slopes_power_of_2(n)
        closest_power_of_2 = 2 ** math.floor(math.log2(n))
        return get_slopes_power_of_2(closest_power_of_2) + \
            get_slopes(2 * closest_power_of_2)[0::2][:n - closest_power_of_2]

Usage: python3 crates/model/tools/alibi_slopes_reference.py 112   (CPython 3.11.7)
"""
import math
import sys


def get_slopes(n):
    def get_slopes_power_of_2(n):
        start = 2 ** (-(2 ** -(math.log2(n) - 3)))
        ratio = start
        return [start * ratio**i for i in range(n)]

    if math.log2(n).is_integer():
        return get_slopes_power_of_2(n)
    closest_power_of_2 = 2 ** math.floor(math.log2(n))
    return (
        get_slopes_power_of_2(closest_power_of_2)
        + get_slopes(2 * closest_power_of_2)[0::2][: n - closest_power_of_2]
    )


n = int(sys.argv[1]) if len(sys.argv) > 1 else 112
slopes = get_slopes(n)
print(f"// {n} slopes, Megatron-DeepSpeed get_slopes({n}), CPython {sys.version.split()[0]}")
for i in range(0, n, 4):
    print("    " + " ".join(f"{repr(s)}," for s in slopes[i : i + 4]))
