"""Draw a workflow definition: Graphviz DOT text, and a self-contained SVG from a small layered layout of
our own (no graphviz binary on the server).  Both are drawn from the same definition the engine runs.

Layout: states are listed in a definition in the order of the main flow, so edges to earlier states are back
edges (drawn red).  Columns come from longest paths over forward edges, the main line runs along one row with
side states above it, edges that are not between neighbouring columns run as orthogonal arcs over the top or
under the main line, and actions that keep the state (supervise, extensions …) are listed inside the box.
"""

from __future__ import annotations

import unicodedata
from collections import defaultdict
from html import escape

from .definition import WorkflowDef

FONT = 13
BOX_H = 44
GAP_X = 90
GAP_Y = 30
PAD = 24


def _text_width(text: str, size: int = FONT) -> float:
    width = 0.0
    for ch in text:
        width += size if unicodedata.east_asian_width(ch) in ("W", "F") else size * 0.6
    return width


def _edges(definition: WorkflowDef, lang: str):
    """{(src, dst): [labels]} for state changes, {state: [labels]} for actions that keep the state."""
    moves: dict[tuple[str, str], list[str]] = {}
    stays: dict[str, list[str]] = defaultdict(list)
    for action in definition.actions:
        for src in action.sources:
            if action.dest is None:
                stays[src].append(action.label(lang))
            else:
                moves.setdefault((src, action.dest), []).append(action.label(lang))
    return moves, stays


def _layout(definition: WorkflowDef, moves):
    """Layer (column) and row of every state.

    The definition lists states in the order of its main flow, so an edge to an earlier-listed state is a
    back edge (rework, re-dispatch, reopen).  Columns are longest paths over the forward edges.  The main line
    (the longest forward chain from the initial state to a terminal one) sits on row 0; side states stack
    above it in the order they are listed."""
    index = {n: i for i, n in enumerate(definition.state_names)}
    forward = sorted({(a, b) for (a, b) in moves if index[b] > index[a]}, key=lambda e: (index[e[0]], index[e[1]]))
    layer = {n: 0 for n in index}
    for a, b in forward:  # sorted by source index: one pass is a topological relaxation
        layer[b] = max(layer[b], layer[a] + 1)
    # main line: walk from the initial state, always to the forward successor with the deepest continuation
    best: dict[str, int] = {}

    def depth(node: str) -> int:
        if node not in best:
            nexts = [b for a, b in forward if a == node and layer[b] == layer[a] + 1]
            best[node] = 1 + max((depth(b) for b in nexts), default=0)
        return best[node]

    main, node = [definition.initial], definition.initial
    while True:
        nexts = [b for a, b in forward if a == node and layer[b] == layer[node] + 1]
        if not nexts:
            break
        node = max(nexts, key=lambda b: (depth(b), -index[b]))
        main.append(node)
    row = {n: 0 for n in main}
    used: dict[int, int] = defaultdict(int)
    for n in definition.state_names:
        if n not in row:
            used[layer[n]] += 1
            row[n] = -used[layer[n]]
    back = {(a, b) for (a, b) in moves if a != b and index[b] < index[a]}
    return layer, row, back


def to_svg(definition: WorkflowDef, lang: str = "zh") -> str:
    moves, stays = _edges(definition, lang)
    layer, row, back = _layout(definition, moves)
    lines_of = {}
    for s in definition.states:
        sep = ", " if lang.startswith("en") else "、"
        lines_of[s.name] = [s.label(lang), s.name] + (["⟲ " + sep.join(stays[s.name])] if stays.get(s.name) else [])
    width_of = {n: max(_text_width(t, FONT if i < 2 else FONT - 2) for i, t in enumerate(ls)) + 24
                for n, ls in lines_of.items()}
    for n in layer:  # a main-line box is wider than the side boxes above it, so arcs can leave beside them
        if row[n] == 0:
            side = [width_of[m] for m in layer if layer[m] == layer[n] and row[m] < 0]
            if side:
                width_of[n] = max(width_of[n], max(side) + 30)
    box_h = BOX_H + 16
    cols = sorted(set(layer.values()))
    col_w = {k: max(width_of[n] for n in layer if layer[n] == k) for k in cols}
    top_row = min(row.values())
    n_rows = 1 - top_row
    x0, x = {}, PAD
    for k in cols:
        x0[k] = x
        x += col_w[k] + GAP_X
    width = x - GAP_X + PAD
    arcs_above = [(a, b) for (a, b) in moves if a != b and
                  ((a, b) in back or layer[b] - layer[a] != 1 or row[a] != row[b]) and (row[a] < 0 or row[b] < 0)
                  and not (layer[b] - layer[a] == 1)]
    arcs_below = [(a, b) for (a, b) in moves if a != b and row[a] == 0 and row[b] == 0
                  and ((a, b) in back or layer[b] - layer[a] != 1)]
    top = PAD + 34 + 22 * len(arcs_above)
    box = {}
    for n in layer:
        k = layer[n]
        w = width_of[n]
        box[n] = (x0[k] + (col_w[k] - w) / 2, top + (row[n] - top_row) * (box_h + GAP_Y), w, box_h)
    main_bottom = top + (n_rows - 1) * (box_h + GAP_Y) + box_h
    height = main_bottom + 24 * len(arcs_below) + PAD + 12
    title = definition.label_en if lang.startswith("en") else definition.label_zh
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="\'Noto Sans CJK SC\', \'PingFang SC\', '
        f'\'Microsoft YaHei\', sans-serif" font-size="{FONT}">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" '
        'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker>'
        '<marker id="arrow-back" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" '
        'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#b05050"/></marker></defs>',
        f'<title>{escape(title)}</title>',
        f'<text x="{PAD}" y="{PAD + 8}" font-size="{FONT + 3}" font-weight="bold">{escape(title)}</text>',
    ]
    labels = []

    def span(e):
        return abs(layer[e[1]] - layer[e[0]]), layer[e[0]]

    depth_above = {e: i + 1 for i, e in enumerate(sorted(arcs_above, key=span))}
    depth_below = {e: i + 1 for i, e in enumerate(sorted(arcs_below, key=span))}
    for (a, b), names in moves.items():
        if a == b:
            continue
        ax, ay, aw, ah = box[a]
        bx, by, bw, bh = box[b]
        text = " / ".join(names)
        is_back = (a, b) in back
        colour, marker = ("#b05050", "arrow-back") if is_back else ("#555", "arrow")
        shift = 10 if is_back else -10  # keep an arc's ends apart from a forward arc between the same boxes
        if (a, b) in depth_below:
            sx, sy, ex, ey = ax + aw / 2 - shift, ay + ah, bx + bw / 2 + shift, by + bh
            low = main_bottom + 22 * depth_below[(a, b)]
            d = f"M{sx:.1f},{sy:.1f} L{sx:.1f},{low:.1f} L{ex:.1f},{low:.1f} L{ex:.1f},{ey:.1f}"
            lx, ly = (sx + ex) / 2, low - 3
        elif (a, b) in depth_above:
            sx, sy, ex, ey = ax + aw / 2 + shift, ay, bx + bw / 2 - shift, by
            sx, ex = _clear(a, sx, box, row), _clear(b, ex, box, row)
            high = top - 22 * depth_above[(a, b)] + 8
            d = f"M{sx:.1f},{sy:.1f} L{sx:.1f},{high:.1f} L{ex:.1f},{high:.1f} L{ex:.1f},{ey:.1f}"
            lx, ly = (sx + ex) / 2, high - 3
        else:
            sx, sy = ax + aw, ay + ah / 2
            ex, ey = bx, by + bh / 2
            mid = (sx + ex) / 2
            d = f"M{sx:.1f},{sy:.1f} C{mid:.1f},{sy:.1f} {mid:.1f},{ey:.1f} {ex:.1f},{ey:.1f}"
            lx, ly = mid, (sy + ey) / 2 - 4
        out.append(f'<path d="{d}" fill="none" stroke="{colour}" stroke-width="1.3" '
                   f'marker-end="url(#{marker})"><title>{escape(text)}</title></path>')
        tw = _text_width(text, FONT - 2)
        labels.append(f'<rect x="{lx - tw / 2 - 3:.1f}" y="{ly - 11:.1f}" width="{tw + 6:.1f}" height="14" '
                      f'fill="white" fill-opacity="0.9"/>'
                      f'<text x="{lx:.1f}" y="{ly:.1f}" text-anchor="middle" font-size="{FONT - 2}" '
                      f'fill="{colour}">{escape(text)}</text>')
    for s in definition.states:
        bx, by, bw, bh = box[s.name]
        fill = "#e8f0fe" if s.name == definition.initial else ("#eeeeee" if s.terminal else "#ffffff")
        stroke_w = 2.5 if s.terminal else 1.3
        out.append(f'<g id="state-{s.name}"><rect x="{bx:.1f}" y="{by:.1f}" width="{bw:.1f}" height="{bh:.1f}" '
                   f'rx="8" fill="{fill}" stroke="#333" stroke-width="{stroke_w}"/>'
                   f'<text x="{bx + bw / 2:.1f}" y="{by + 18:.1f}" text-anchor="middle" font-weight="bold">'
                   f'{escape(s.label(lang))}</text>'
                   f'<text x="{bx + bw / 2:.1f}" y="{by + 34:.1f}" text-anchor="middle" fill="#777" '
                   f'font-size="{FONT - 2}">{escape(s.name)}</text>')
        if stays.get(s.name):
            out.append(f'<text x="{bx + bw / 2:.1f}" y="{by + 51:.1f}" text-anchor="middle" fill="#2a6f2a" '
                       f'font-size="{FONT - 2}">{escape(lines_of[s.name][2])}</text>')
        out.append("</g>")
    out.extend(labels)
    out.append("</svg>")
    return "\n".join(out)


def _clear(node: str, x: float, box, row) -> float:
    """Move a vertical segment leaving the top of `node` sideways so it does not run behind a side box
    stacked above it in the same column."""
    nx, _, nw, _ = box[node]
    for other, (ox, oy, ow, oh) in box.items():
        if other != node and row[other] < row[node] and ox - 4 <= x <= ox + ow + 4 and ox < nx + nw and nx < ox + ow:
            right, left = ox + ow + 8, ox - 8
            if right <= nx + nw - 4:
                x = right
            elif left >= nx + 4:
                x = left
    return x


def _dot_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def to_dot(definition: WorkflowDef, lang: str = "zh") -> str:
    """Graphviz DOT text: one node per state, one edge per (source, destination) with its actions."""
    moves, stays = _edges(definition, lang)
    title = definition.label_en if lang.startswith("en") else definition.label_zh
    lines = [f"digraph {_dot_quote(definition.name)} {{", "  rankdir=LR;", f"  label={_dot_quote(title)};",
             '  node [shape=box, style="rounded,filled", fillcolor=white, fontname="sans-serif"];',
             '  edge [fontname="sans-serif", fontsize=10];']
    for s in definition.states:
        label = f"{s.label(lang)}\\n{s.name}"
        if stays.get(s.name):
            label += "\\n⟲ " + (", " if lang.startswith("en") else "、").join(stays[s.name])
        attrs = [f"label={_dot_quote(label).replace(chr(92) * 2 + 'n', chr(92) + 'n')}"]
        if s.terminal:
            attrs.append("peripheries=2")
        if s.name == definition.initial:
            attrs.append("fillcolor=\"#e8f0fe\"")
        lines.append(f"  {_dot_quote(s.name)} [{', '.join(attrs)}];")
    for (a, b), names in moves.items():
        lines.append(f"  {_dot_quote(a)} -> {_dot_quote(b)} [label={_dot_quote(' / '.join(names))}];")
    lines.append("}")
    return "\n".join(lines) + "\n"
