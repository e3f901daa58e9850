#!/usr/bin/env python3
"""Re-encode a Kinetics-format video dataset to a short side and keyframe interval (libx264).

    python tools/prepare_videos.py --src data/kinetics --dst data/kinetics_256_k16 \
        --short-side 256 --keyframe-interval 16 --workers 8

Reads ``{train,val,test}.csv`` (``path label`` lines) in ``--src`` (or ``--annotations``), writes
each video to the same relative path under ``--dst`` and copies the annotation files there, so a
run only changes ``DATA.PATH_TO_DATA_DIR`` and ``DATA.PATH_PREFIX``. Videos already re-encoded
are skipped: run the same command again to resume. Broken videos are listed and left out; the
exit status is 1 when any failed.
"""

import argparse
import os
import sys


def main(argv: list[str]) -> int:
    from slowfast.datasets.errors import DataError
    from slowfast.datasets.prepare import (
        EncodeSettings,
        annotation_videos,
        mirror_paths,
        prepare_videos,
    )

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", required=True, help="dataset folder (DATA.PATH_PREFIX)")
    parser.add_argument("--dst", required=True, help="where the re-encoded dataset goes")
    parser.add_argument(
        "--annotations",
        nargs="*",
        default=None,
        help="annotation files (default: the train/val/test.csv in --src)",
    )
    parser.add_argument("--short-side", type=int, default=256, help="0 keeps the source size")
    parser.add_argument("--keyframe-interval", type=int, default=16)
    parser.add_argument("--crf", type=int, default=23)
    parser.add_argument("--preset", default="veryfast")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--separator", default=" ", help="DATA.PATH_LABEL_SEPARATOR")
    args = parser.parse_args(argv)

    files = args.annotations
    if files is None:
        files = [os.path.join(args.src, f"{s}.csv") for s in ("train", "val", "test")]
        files = [f for f in files if os.path.isfile(f)]
        if not files:
            print(f"prepare_videos: error: no train/val/test.csv in {args.src}", file=sys.stderr)
            return 2
    src_root, dst_root = os.path.abspath(args.src), os.path.abspath(args.dst)
    try:
        settings = EncodeSettings(
            args.short_side or None, args.keyframe_interval, args.crf, args.preset
        )
        pairs, seen = [], set()
        for path in files:
            for pair in mirror_paths(annotation_videos(path, args.separator), src_root, dst_root):
                if pair[1] not in seen:
                    seen.add(pair[1])
                    pairs.append(pair)
    except (DataError, ValueError) as e:
        print(f"prepare_videos: error: {e}", file=sys.stderr)
        return 2
    os.makedirs(dst_root, exist_ok=True)
    report = prepare_videos(pairs, settings, workers=args.workers)
    for path in files:  # absolute paths under --src move to --dst; relative ones stay
        with open(path, encoding="utf-8") as f:
            text = f.read()
        with open(os.path.join(dst_root, os.path.basename(path)), "w", encoding="utf-8") as f:
            f.write(text.replace(src_root + os.sep, dst_root + os.sep))
    print(
        f"prepare_videos: {report.done} re-encoded, {report.skipped} already there, "
        f"{len(report.failed)} failed -> {dst_root}"
    )
    for _src, error in report.failed:
        print(f"  failed: {error}", file=sys.stderr)
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
