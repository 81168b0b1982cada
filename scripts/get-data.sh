#!/usr/bin/env bash
# Downloads a dataset's official archive, checks its published MD5, and unpacks it into DIR.
# Usage: scripts/get-data.sh cifar10|cifar100|tinyimagenet DIR
set -euo pipefail

usage() { echo "usage: $0 cifar10|cifar100|tinyimagenet DIR" >&2; exit 2; }
[ $# -eq 2 ] || usage
name=$1 dir=$2
case "$name" in
  cifar10)      url=https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz  md5=c32a1d4ab5d03f1284b67883e8d87530 ;;
  cifar100)     url=https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz md5=03b5dce01913d631647c71ecec9e9cb8 ;;
  tinyimagenet) url=http://cs231n.stanford.edu/tiny-imagenet-200.zip         md5=90528d7ca1a48142e341f4ef8d21d0de ;;
  *) usage ;;
esac
[ -n "$dir" ] || { echo "get-data: DIR is empty" >&2; exit 2; }
[ ! -e "$dir" ] || [ -d "$dir" ] || { echo "get-data: $dir is not a folder" >&2; exit 2; }

mkdir -p "$dir"
archive="$dir/$(basename "$url")"
trap 'rm -f "$archive.part"' EXIT  # an interrupted download leaves nothing behind
have=""  # the MD5 of an archive already there
[ -f "$archive" ] && have=$(md5sum "$archive" | cut -d' ' -f1)
if [ "$have" != "$md5" ]; then
  # A stalled connection (under 10 kB/s for a minute) fails instead of hanging; the ~170 MB
  # archives take minutes on a slow link, so there is no cap on the whole transfer.
  if ! error=$(curl -fsSL --connect-timeout 15 --speed-limit 10000 --speed-time 60 --retry 2 \
                 -o "$archive.part" "$url" 2>&1); then
    error=${error%%$'\n'*}
    if [ -n "$have" ]; then
      echo "get-data: $archive has MD5 $have, expected $md5, and a fresh copy cannot be downloaded from $url (${error:-offline?}); replace it with the right archive and run this again" >&2
    else
      echo "get-data: cannot download $url (${error:-offline?}); put the archive at $archive and run this again" >&2
    fi
    exit 1
  fi
  mv "$archive.part" "$archive"
fi
actual=$(md5sum "$archive" | cut -d' ' -f1)
if [ "$actual" != "$md5" ]; then
  echo "get-data: $archive has MD5 $actual, expected $md5; delete it and run this again" >&2
  exit 1
fi
case "$archive" in
  *.tar.gz) tar xzf "$archive" -C "$dir" ;;
  *.zip) if command -v unzip >/dev/null; then unzip -q -o "$archive" -d "$dir"; else python3 -m zipfile -e "$archive" "$dir"; fi ;;
esac
echo "get-data: $name is in $dir (train with --dataset $name --data-dir $dir)"
