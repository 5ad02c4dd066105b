#!/usr/bin/env bash
# Writes src/OnnxLora.Training/Run/Fonts/DejaVuSans-Subset.ttf, the font loss.png is drawn with: DejaVu Sans
# (Debian's fonts-dejavu-core) cut down to Basic Latin, Latin-1 and a few dashes/minus (~22 KB), so a machine
# without any system font still gets tick labels. Needs Debian's fonts-dejavu-core and python3-fonttools
# (apt-get install fonts-dejavu-core python3-fonttools). Run once; the output and its licence are committed.
set -euo pipefail
src=/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf
out_dir="$(dirname "$0")/../../src/OnnxLora.Training/Run/Fonts"
/usr/bin/python3 -m fontTools.subset "$src" \
  --unicodes="U+0020-007E,U+00A0-00FF,U+2013,U+2014,U+2026,U+2212" \
  --no-hinting --output-file="$out_dir/DejaVuSans-Subset.ttf"
# The Bitstream Vera licence must travel with every copy (DejaVu's own changes are public domain).
sed -n '/^Files: \*/,/^Files: debian/p' /usr/share/doc/fonts-dejavu-core/copyright | sed '1d;$d' \
  | sed 's/^ \.$//; s/^ //' > "$out_dir/LICENSE-DejaVu.txt"
