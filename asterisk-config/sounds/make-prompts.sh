#!/bin/sh
# Render the sandbox's spoken prompts with espeak-ng into 8 kHz mono 16-bit
# WAV files (Asterisk's "wav" format) and µ-law WAVs for SIPp agent phones.
# Usage: make-prompts.sh PROMPTS_TXT OUT_DIR
set -eu
src=$1; out=$2
mkdir -p "$out"
grep -v '^#' "$src" | grep -v '^$' | while IFS='|' read -r name voice text; do
    wav="$out/$name.wav"
    ulaw="$out/$name.ulaw.wav"
    [ -s "$wav" ] && [ -s "$ulaw" ] && [ "$wav" -nt "$src" ] && continue
    tmp="$out/.$name.raw.wav"
    espeak-ng -v "$voice" -s 150 -w "$tmp" "$text"
    sox -q "$tmp" -r 8000 -c 1 -b 16 -e signed-integer "$wav"
    sox -q "$tmp" -r 8000 -c 1 -e u-law "$ulaw"
    rm -f "$tmp"
done
