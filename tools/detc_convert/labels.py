"""Label files in every format people ship beside detectors, detected from the text, and fitted to the
model's classes (never a silent offset).

Formats:
  plain     one name per line, line k = class k; optionally a background line first ("???",
            "background", "__background__"), as TensorFlow's example labelmap.txt has
  pairs     "ID NAME" or "ID: NAME" on every non-empty line (Coral's coco_labels.txt): ID = the class
            the model outputs, from 0; gaps allowed
  pbtxt     the TF Object Detection API's label_map.pbtxt: item { id: N name: "..." display_name: "..." },
            ids from 1 (0 is the background), the display_name printed when present

fit() returns (labels, class_offset): the list stored in the .detc file and the offset the pipeline adds
to the model's class output to index it. Classes without a name get "???".
"""

import re

from .errors import ConvertError

BACKGROUND = ("???", "background", "__background__")
GAP = "???"

_PAIR = re.compile(r"^\s*(\d+)\s*(?::\s*|\s+)(\S.*?)\s*$")
_PBTXT_ITEM = re.compile(r"\bitem\s*\{")


class Labels:
    """kind: 'plain', 'pairs' or 'pbtxt'; names: list (plain) or dict id -> name (pairs, pbtxt)."""

    def __init__(self, kind, names, where):
        self.kind = kind
        self.names = names
        self.where = where

    def describe(self):
        if self.kind == "plain":
            return "%d lines" % len(self.names)
        ids = sorted(self.names)
        return "%d %s with ids %d..%d" % (len(ids), "items" if self.kind == "pbtxt" else "ID/name pairs",
                                          ids[0], ids[-1])


def _pbtxt(text, where):
    names = {}
    items = list(_PBTXT_ITEM.finditer(text))
    if not items:
        raise ConvertError("%s: looks like a label_map.pbtxt but has no `item {` blocks" % where)
    for k, m in enumerate(items):
        depth, i = 1, m.end()
        while i < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        if depth:
            raise ConvertError("%s: item %d has no closing '}'" % (where, k + 1))
        body = text[m.end():i - 1]
        fields = {}
        for fm in re.finditer(r"\b(id|name|display_name)\s*:\s*(\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*'|-?\d+)", body):
            v = fm.group(2)
            fields[fm.group(1)] = v[1:-1].replace('\\"', '"').replace("\\'", "'") if v[0] in "\"'" else int(v)
        if not isinstance(fields.get("id"), int):
            raise ConvertError("%s: item %d has no integer `id`" % (where, k + 1))
        name = fields.get("display_name") or fields.get("name")
        if not isinstance(name, str) or not name:
            raise ConvertError("%s: item %d (id %d) has neither display_name nor name" % (where, k + 1, fields["id"]))
        if fields["id"] in names:
            raise ConvertError("%s: id %d appears twice" % (where, fields["id"]))
        names[fields["id"]] = name
    return Labels("pbtxt", names, where)


def parse(text, where):
    """Labels from a file's text; the format is detected."""
    if _PBTXT_ITEM.search(text):
        return _pbtxt(text, where)
    lines = [ln.strip() for ln in text.splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    if not lines:
        raise ConvertError("%s: no labels in the file" % where)
    nonempty = [ln for ln in lines if ln]
    pairs = [_PAIR.match(ln) for ln in nonempty]
    if all(pairs) and len(nonempty) >= 1 and not all(ln.isdigit() for ln in nonempty):
        names = {}
        for m in pairs:
            i = int(m.group(1))
            if i in names:
                raise ConvertError("%s: ID %d appears twice" % (where, i))
            names[i] = m.group(2)
        return Labels("pairs", names, where)
    return Labels("plain", lines, where)


def read(path):
    with open(path, "rb") as f:
        raw = f.read()
    return from_bytes(raw, path)


def from_bytes(raw, where):
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ConvertError("%s: not UTF-8 text (byte %d)" % (where, e.start))
    return parse(text, where)


def fit(labels, num_classes):
    """(list, class_offset) for a model whose class output is 0..num_classes-1 (None: unknown, the labels
    are taken as they are). Raises ConvertError saying how the file and the model differ."""
    w = labels.where
    if labels.kind == "plain":
        names = labels.names
        if num_classes is None or len(names) == num_classes:
            return list(names), 0
        if len(names) == num_classes + 1 and names[0].lower() in BACKGROUND:
            return list(names), 1
        if len(names) == num_classes + 1:
            raise ConvertError("%s: %d labels, but the model has %d classes; a file with one more line must start "
                               "with a background line (%s), this one starts with %r"
                               % (w, len(names), num_classes, ", ".join(BACKGROUND), names[0]))
        raise ConvertError("%s: %d labels (one per line), but the model has %d classes (%s); give a label file "
                           "with %d lines, or %d with a background line first"
                           % (w, len(names), num_classes,
                              "the file has %d too many" % (len(names) - num_classes) if len(names) > num_classes
                              else "%d classes would have no name" % (num_classes - len(names)),
                              num_classes, num_classes + 1))
    ids = sorted(labels.names)
    if labels.kind == "pbtxt":
        # TF OD API: id 1 is the model's class 0 (id 0 is the implicit background)
        bad = [i for i in ids if i < 1 or (num_classes is not None and i > num_classes)]
        if bad:
            raise ConvertError("%s: label map ids %s are outside 1..%s (TF Object Detection API ids start at 1 for "
                               "the model's first class%s)"
                               % (w, ", ".join(str(i) for i in bad[:8]) + (", ..." if len(bad) > 8 else ""),
                                  num_classes if num_classes is not None else "N",
                                  "; the model has %d classes" % num_classes if num_classes is not None else ""))
        n = num_classes if num_classes is not None else ids[-1]
        out = [GAP] * (n + 1)
        for i, name in labels.names.items():
            out[i] = name
        return out, 1
    # pairs: ID = the model's class output
    background = labels.names.get(0, "").lower() in BACKGROUND
    if num_classes is not None and ids[-1] >= num_classes:
        if background and ids[-1] == num_classes:
            out = [GAP] * (num_classes + 1)
            for i, name in labels.names.items():
                out[i] = name
            return out, 1
        raise ConvertError("%s: ID %d, but the model's classes are 0..%d (%d classes); IDs must be the class "
                           "numbers the model outputs, from 0%s"
                           % (w, ids[-1], num_classes - 1, num_classes,
                              " (these look 1-based: start at 0, or give a background line `0 ???`)"
                              if ids[0] == 1 and ids[-1] == num_classes else ""))
    n = num_classes if num_classes is not None else ids[-1] + 1
    out = [GAP] * n
    for i, name in labels.names.items():
        out[i] = name
    return out, 0
