#!/usr/bin/env python3
"""Rewrites one .cu file so that g++ compiles it against tests/emulation/emulator.h.

Usage: rewrite_cuda.py SOURCE.cu OUTPUT

Two rewrites, nothing else, each on the lines it replaces so that every line keeps its number
(a `#line` directive names the original file, so compiler errors, emulator findings and
AddressSanitizer reports point at the real .cu lines):
  kernel<<<grid, block, shared, stream>>>(args)
      -> ::emu::launch(grid, block, shared, stream, "kernel",
                       [emu_args = std::make_tuple(args)] { std::apply([](const auto&... a) { kernel(a...); }, emu_args); })
     (the arguments are evaluated once, at the launch, as on a GPU, not once per CUDA thread)
  __shared__ T name[dims];
      -> EMU_SHARED(T, name, [dims]);
Only the Python standard library is used.
"""
import re
import sys


def matching(text, i, opening, closing):
    """Index just past the bracket that closes text[i] == opening."""
    depth = 0
    for j in range(i, len(text)):
        if text[j] == opening:
            depth += 1
        elif text[j] == closing:
            depth -= 1
            if depth == 0:
                return j + 1
    raise ValueError(f"unbalanced {opening!r} at offset {i}")


def kernel_start(text, end):
    """Start of the kernel expression that ends at `end` (a name, `::`, template arguments)."""
    i = end
    while i > 0:
        if text[i - 1] == ">":  # template arguments: walk back to the matching '<'
            depth = 0
            while True:
                i -= 1
                depth += {">": 1, "<": -1}.get(text[i], 0)
                if depth == 0:
                    break
        elif text[i - 1].isalnum() or text[i - 1] in "_:":
            i -= 1
        else:
            return i
    return i


def top_level_commas(text):
    """text split at the commas outside any brackets."""
    parts, depth, start = [], 0, 0
    for i, c in enumerate(text):
        depth += {"(": 1, "[": 1, "{": 1, ")": -1, "]": -1, "}": -1}.get(c, 0)
        if c == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    return parts + [text[start:]]


def rewrite_launches(text):
    out, pos = [], 0
    while (config_start := text.find("<<<", pos)) >= 0:
        start = kernel_start(text, config_start)
        kernel = text[start:config_start]
        config_end = text.index(">>>", config_start)
        config = top_level_commas(text[config_start + 3:config_end])
        if not 2 <= len(config) <= 4:
            raise ValueError(f"launch of {kernel}: expected <<<grid, block[, shared[, stream]]>>>")
        config += ["0", "nullptr"][len(config) - 2:]  # CUDA's defaults
        args_start = config_end + 3
        while text[args_start].isspace():
            args_start += 1
        args_end = matching(text, args_start, "(", ")")
        arguments = text[args_start + 1:args_end - 1]
        body = f"std::apply([](const auto&... a) {{ {kernel}(a...); }}, emu_args)"
        out += [text[pos:start],
                f'::emu::launch({",".join(config)}, "{kernel}", [emu_args = std::make_tuple({arguments})] {{ {body}; }})']
        pos = args_end
    return "".join(out + [text[pos:]])


SHARED = re.compile(r"__shared__\s+([\w:<>]+)\s+(\w+)\s*((?:\[[^\]]+\]\s*)*);")


def rewrite_shared(text):
    return SHARED.sub(lambda m: f"EMU_SHARED({m.group(1)}, {m.group(2)}, {m.group(3).strip()});", text)


def main():
    source, output = sys.argv[1], sys.argv[2]
    text = open(source).read()
    rewritten = rewrite_shared(rewrite_launches(text))
    if "<<<" in rewritten or "__shared__" in rewritten:
        sys.exit(f"{source}: a launch or __shared__ declaration that rewrite_cuda.py does not understand")
    assert rewritten.count("\n") == text.count("\n"), "a rewrite moved lines"
    with open(output, "w") as f:
        f.write(f'#line 1 "{source}"\n{rewritten}')


if __name__ == "__main__":
    main()
