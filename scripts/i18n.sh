#!/usr/bin/env bash
# Refresh the message catalogues after wording changed: extract every phrase marked for translation from
# notifications/ (Python and templates) into messages.pot, and merge it into each language's messages.po.
# New or changed phrases then show up untranslated (or fuzzy) in the .po files, and
# tests/notifications/test_languages.py fails until they are translated. Nothing needs compiling:
# notifications/i18n.py reads the .po files when the service starts.
set -euo pipefail
cd "$(dirname "$0")/.."
PYBABEL=.venv/bin/pybabel
LOCALE=notifications/locale
$PYBABEL extract -F babel.cfg --no-location --sort-output \
  --project "Backorder Desk" --copyright-holder "Backorder Desk" -o "$LOCALE/messages.pot" .
for lang in de fr es; do
  if [ -f "$LOCALE/$lang/LC_MESSAGES/messages.po" ]; then
    $PYBABEL update --no-fuzzy-matching -i "$LOCALE/messages.pot" -d "$LOCALE" -l "$lang"
  else
    $PYBABEL init -i "$LOCALE/messages.pot" -d "$LOCALE" -l "$lang"
  fi
done
