#!/usr/bin/env bash
# Reproduce every figure of docs/figures.md into runs/figures/ (needs ../shared/datasets and the
# train + rapidocr extras; ~20 min on a 2-core machine; run it on an otherwise idle machine).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
D=${DATASETS:-../shared/datasets}
OUT=runs/figures
mkdir -p "$OUT" runs/eval-videos

echo "== detector input size" && $PY -m edge_alpr.bench.input_size --datasets "$D" | tee "$OUT/input_size.txt"
echo "== detector int8 vs float" && $PY -m edge_alpr bench detector --images 100 --threads 1 2 | tee "$OUT/bench_detector.txt"
echo "== reader vs PP-OCRv4 and Tesseract" && $PY -m edge_alpr bench reader --threads 1 | tee "$OUT/bench_reader.txt"
echo "== reader on every held-out set: the wide recognizer alone, then the shipped pair, paired crop by crop"
$PY -m edge_alpr.bench.reader_heldout models --square models/plate_reader_square_int8.tflite --datasets "$D" \
    --outcomes "$OUT/reader_outcomes" --blur | tee "$OUT/reader_heldout.txt"
$PY -m edge_alpr eval-compare "$OUT/reader_outcomes/reader0.json" "$OUT/reader_outcomes/reader1.json" | tee "$OUT/reader_square_paired.txt"
echo "== pipeline 1280x720" && $PY -m edge_alpr bench pipeline --threads 2 | tee "$OUT/bench_pipeline.txt"

echo "== end-to-end stills"
$PY -m edge_alpr eval --manifest "$D/in_olx_scenes/manifest.jsonl" --holdout detector-val --plots "$OUT/in_olx" | tee "$OUT/eval_in_olx.txt"
$PY -m edge_alpr eval --manifest "$D/openalpr_us/manifest.jsonl" --holdout detector-val --grammar any | tee "$OUT/eval_us.txt"
$PY -m edge_alpr eval --manifest "$D/openalpr_br/manifest.jsonl" --holdout detector-val --grammar any | tee "$OUT/eval_br.txt"
$PY -m edge_alpr eval --manifest "$D/openlpr/manifest.jsonl" --split val --plots "$OUT/openlpr" | tee "$OUT/eval_openlpr.txt"
for set in in_twowheelers in_odisha_traffic; do
  $PY -m edge_alpr eval --manifest "$D/$set/manifest.jsonl" --holdout detector-val | tee "$OUT/eval_$set.txt"
done
$PY -m edge_alpr eval --reader-only --manifest "$D/in_plates/labels.jsonl" --split val --plots "$OUT/reader" | tee "$OUT/eval_reader.txt"

echo "== videos: temporal redundancy"
$PY -m edge_alpr.evaluation.videogen --datasets "$D" --out runs/eval-videos --vehicles 12 --seed 0 --sets in_olx_scenes --name real_val_in --no-synth
$PY -m edge_alpr.evaluation.videogen --datasets "$D" --out runs/eval-videos --vehicles 12 --seed 0
$PY -m edge_alpr.evaluation.videogen --datasets "$D" --out runs/eval-videos --vehicles 41 --seed 0 --sets in_twowheelers in_odisha_traffic --name two_wheelers_val --no-synth
$PY -m edge_alpr.evaluation.videogen --datasets "$D" --out runs/eval-videos --vehicles 41 --seed 0 --sets in_twowheelers in_odisha_traffic --name two_wheelers_val_1500us --no-synth --exposure-us 1500
$PY -m edge_alpr.evaluation.videogen --datasets "$D" --out runs/eval-videos --vehicles 40 --seed 0 --sets in_olx_scenes --name olx_val --no-synth
$PY -m edge_alpr eval-video --video runs/eval-videos/real_val_in.mp4 | tee "$OUT/video_real_in.txt"
$PY -m edge_alpr eval-video --video runs/eval-videos/two_wheelers_val.mp4 --json > "$OUT/video_two_wheelers.json"
$PY -m edge_alpr eval-video --video runs/eval-videos/two_wheelers_val_1500us.mp4 --json > "$OUT/video_two_wheelers_1500us.json"
$PY -m edge_alpr eval-compare "$OUT/video_two_wheelers.json" "$OUT/video_two_wheelers_1500us.json" | tee "$OUT/video_two_wheelers_shutter.txt"
$PY -m edge_alpr eval-video --video runs/eval-videos/olx_val.mp4 --no-single-frame | tee "$OUT/video_olx_val.txt"
$PY -m edge_alpr eval-video --video runs/eval-videos/synth_scene.mp4 | tee "$OUT/video_synth.txt"
$PY -m edge_alpr eval-video --video demo/demo.mp4 | tee "$OUT/video_demo.txt"

echo "== detector strategies" && $PY -m edge_alpr.bench.strategies --datasets "$D" | tee "$OUT/strategies.txt"
echo "figures written to $OUT"
