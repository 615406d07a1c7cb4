#!/usr/bin/env python3
"""Reads a TensorBoard log folder with TensorBoard's own EventAccumulator and
prints what it found as one JSON object, for the tests:

  {"scalars": {tag: [[step, value], ...]},
   "images": {tag: [[step, width, height, png_bytes], ...]},
   "hparams": {"start": {name: value}, "group": str, "end_status": int}}

Usage: python scripts/tb_read.py LOGDIR
"""
import json
import sys

from tensorboard.backend.event_processing import event_accumulator
from tensorboard.plugins.hparams import metadata as hparams_metadata


def main(logdir):
    acc = event_accumulator.EventAccumulator(
        logdir, size_guidance={event_accumulator.SCALARS: 0, event_accumulator.IMAGES: 0}
    )
    acc.Reload()
    tags = acc.Tags()
    out = {"scalars": {}, "images": {}, "hparams": None}
    for tag in tags["scalars"]:
        out["scalars"][tag] = [[e.step, e.value] for e in acc.Scalars(tag)]
    for tag in tags["images"]:
        out["images"][tag] = [[e.step, e.width, e.height, len(e.encoded_image_string)] for e in acc.Images(tag)]
    try:
        content = acc.PluginTagToContent(hparams_metadata.PLUGIN_NAME)
    except KeyError:
        content = {}
    if content:
        hp = {}
        if hparams_metadata.SESSION_START_INFO_TAG in content:
            start = hparams_metadata.parse_session_start_info_plugin_data(
                content[hparams_metadata.SESSION_START_INFO_TAG]
            )
            values = {}
            for name, value in start.hparams.items():
                kind = value.WhichOneof("kind")
                values[name] = getattr(value, kind)
            hp["start"] = values
            hp["group"] = start.group_name
        if hparams_metadata.SESSION_END_INFO_TAG in content:
            end = hparams_metadata.parse_session_end_info_plugin_data(content[hparams_metadata.SESSION_END_INFO_TAG])
            hp["end_status"] = end.status
        out["hparams"] = hp
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1])
