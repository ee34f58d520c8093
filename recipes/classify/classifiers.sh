#!/usr/bin/env bash
# Trains the classifiers of issue 17 into models/ (not committed; minutes each on a CPU).
# Run from the repository root with ../shared/corpora beside it:
#   bash recipes/classify/classifiers.sh            # spam, quality and sentiment models
#   bash recipes/classify/classifiers.sh spam       # only one group: spam | quality | sentiment
# Scores: `corpuskit label eval --model models/NAME` (held-out split); BENCHMARKS.md has them.
set -euo pipefail
C=../shared/corpora
ck() { "${CORPUSKIT:-corpuskit}" "$@"; }
want() { [[ $# -eq 0 || " ${ARGS[*]} " == *" $1 "* ]]; }
ARGS=("$@")

if [[ ${#ARGS[@]} -eq 0 ]] || want spam; then
  # Spam: Chinese e-mail (trec06c, read by the e-mail reader: body + subject, the folder
  # ham/spam is the label) and English SMS; per language, used by `classify` in
  # recipes/classify/web-classify.yaml (reject: [spam]).
  ck label train --data "$C/trec06c_subset" --format email --label-field folder \
    --text-field text,title --lang zh --out models/spam-zh
  # SMS: the decision cut on P(spam) is chosen on the validation slice of the training part
  ck label train --data "$C/sms_spam/SMSSpamCollection" --format labelled_text \
    --label-field label --lang en --arch ensemble --balance --tune-threshold --out models/spam-en
fi

if [[ ${#ARGS[@]} -eq 0 ]] || want quality; then
  # DCLM-style quality: edited news and books (reference) against page boilerplate and
  # spam (web); bench/make_quality_data.py says where each part comes from (it needs
  # Resiliparse: pip install -e '.[bench]').
  "${PYTHON:-python}" bench/make_quality_data.py --out data/quality
  for lang in en zh; do
    ck label train --data "data/quality/quality-$lang.jsonl" --label-field label \
      --lang "$lang" --balance --out "models/quality-$lang"
  done
fi

if [[ ${#ARGS[@]} -eq 0 ]] || want sentiment; then
  # Sentiment: ChnSentiCorp hotel reviews (held-out 20%) and SST-2 (official splits); the
  # bag-of-words model scored best on both (BENCHMARKS.md compares bow, ensemble, cnn), with
  # the decision cut chosen on the validation slice of the training part.
  ck label train --data "$C/chnsenticorp/ChnSentiCorp_htl_all.csv" --text-field review \
    --label-field label --label-names 0=negative,1=positive --tune-threshold \
    --out models/sentiment-zh
  ck label train --data "$C/sst2/train.tsv" --columns sentence,label --text-field sentence \
    --label-field label --label-names 0=negative,1=positive --dev-fraction 0 --max-epochs 20 \
    --tune-threshold --out models/sentiment-en
  ck label eval --model models/sentiment-en --data "$C/sst2/test.tsv" --columns sentence,label \
    --text-field sentence --label-field label --label-names 0=negative,1=positive --domain in
fi
