"""The EPITOME empathy labels, read from their CSV files, with a fixed held-out fifth.

Sharma, Miner, Atkins & Althoff (2020). A Computational Approach to Understanding Empathy Expressed in
Text-Based Mental Health Support. EMNLP. (Public human labels; this attribution is required wherever the
data is used. The data itself is not shipped with Defuse: pass its folder.)
"""

from __future__ import annotations

import hashlib
from pathlib import Path

EPITOME_FILES = {"emotional_reactions": "emotional-reactions-reddit.csv",
                 "interpretations": "interpretations-reddit.csv", "explorations": "explorations-reddit.csv"}
ATTRIBUTION = ("Sharma, Miner, Atkins & Althoff (2020). A Computational Approach to Understanding Empathy "
               "Expressed in Text-Based Mental Health Support. EMNLP")


def split(sp_id: str, rp_id: str) -> str:
    """'test' for a fixed fifth of the pairs, by hash: every run, every judge and the training use the same
    fifth, and a repeated pair always falls on the same side."""
    return "test" if int(hashlib.sha1(f"{sp_id}|{rp_id}".encode()).hexdigest(), 16) % 5 == 0 else "train"


def load_epitome(folder: Path) -> list[dict]:
    """One row per (seeker post, response) with the three mechanisms' levels (the files are row-aligned)."""
    import pandas as pd

    frames = {m: pd.read_csv(folder / file) for m, file in EPITOME_FILES.items()}
    first = next(iter(frames.values()))
    rows = []
    for i, row in enumerate(first.itertuples()):
        if any(frames[m].rp_id.iat[i] != row.rp_id for m in frames):
            raise ValueError(f"EPITOME files are not row-aligned at row {i}")
        rows.append({"sp_id": row.sp_id, "rp_id": row.rp_id, "seeker_post": row.seeker_post,
                     "response_post": row.response_post, "split": split(str(row.sp_id), str(row.rp_id)),
                     **{m: int(frames[m].level.iat[i]) for m in frames}})
    return rows
