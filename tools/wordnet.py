"""A tiny reader of the WordNet 3.0 noun database (Debian package wordnet-base)."""
WORDNET_DIR = "/usr/share/wordnet"


def load(wordnet_dir=WORDNET_DIR):
    synsets, index = {}, {}
    with open(wordnet_dir + "/data.noun", encoding="latin-1") as f:
        for line in f:
            if line.startswith("  "):
                continue
            head, _, gloss = line.partition(" | ")
            parts = head.split()
            offset, count = parts[0], int(parts[3], 16)
            lemmas = [parts[4 + 2 * i] for i in range(count)]
            pos = 4 + 2 * count
            pointers = int(parts[pos])
            hypernyms = []
            for i in range(pointers):
                symbol, target = parts[pos + 1 + 4 * i], parts[pos + 2 + 4 * i]
                if symbol in ("@", "@i"):
                    hypernyms.append(target)
            synsets[offset] = {"lemmas": lemmas, "hypernyms": hypernyms, "gloss": gloss.strip()}
    with open(wordnet_dir + "/index.noun", encoding="latin-1") as f:
        for line in f:
            if line.startswith("  "):
                continue
            parts = line.split()
            index[parts[0]] = [p for p in parts if len(p) == 8 and p.isdigit()]
    return synsets, index


def ancestors(synsets, offset):
    """All hypernyms, nearest first (breadth first)."""
    seen, order, frontier = set(), [], [offset]
    while frontier:
        nxt = []
        for o in frontier:
            for h in synsets[o]["hypernyms"]:
                if h not in seen:
                    seen.add(h)
                    order.append(h)
                    nxt.append(h)
        frontier = nxt
    return order
