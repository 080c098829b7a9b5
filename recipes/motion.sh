#!/usr/bin/env bash
# The motion-compensated model (format v6, AutoencoderConfig.motion): the
# v5 default extended with predicted steps (docs/training.md, --motion).
#
#   bash recipes/motion.sh [RUNS] [INIT]   # RUNS: runs folder (default: runs)
#                                          # INIT: model to extend (default: the v5 default,
#                                          #   vqcodec/weights/legacy/default-v5.json)
#
# One stage: the autoencoder learns to code each 2-frame step against the
# motion-compensated prediction from its own last decoded frame (closed loop,
# clips of an intra head + 3 steps), then the prior learns the chain of tokens
# (the intra head's, then each step's). Only the first half of bikes.mp4,
# bigbuckbunny.mp4 and synthetic clips are trained on, as for the default.
#
# Runs of 2026-12-06 (2 cores, no GPU): 79 and 93 min (5,000 + 1,500 steps);
# the second made the shipped default (recipes/default.sh, stage 15).
# On a user's footage: replace the --data lines with the footage
# (--data FOOTAGE), as for any --init model.
set -euo pipefail

RUNS=${1:-runs}
INIT=${2:-$(python -c "from vqcodec.zoo import LEGACY_WEIGHTS; print(LEGACY_WEIGHTS / 'default-v5.json')")}
BIKES=$(python -c "from vqcodec.media.samples import sample_path; print(sample_path('bikes.mp4'))")
BBB=$(python -c "from vqcodec.media.samples import sample_path; print(sample_path('bigbuckbunny.mp4'))")

vqcodec train --init "$INIT" --motion --synthetic --data "$BIKES:0-0.5" --data "$BBB" \
    --out "$RUNS/motion" --name motion --steps 5000 --prior-steps 1500 --clip 8,96,96 --seed 22 \
    --weighting db --lr 1e-3 --prior-lr 1e-3
