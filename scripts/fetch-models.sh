#!/usr/bin/env bash
# Downloads the Darknet models yoloswitch uses into a model dir, checking
# each file against a pinned sha256 before it is put in place.
#
# Usage: scripts/fetch-models.sh [--dir D] [--list] [--check]
#                                [--allow-unverified] [MODEL...|all]
#
#   --dir D             model dir (default
#                       ${XDG_DATA_HOME:-$HOME/.local/share}/yoloswitch/models)
#   --list              print the table of models, files, hashes and sources
#   --check             verify the files already in the dir; download nothing
#   --allow-unverified  accept files the table has no pinned hash for (the
#                       computed hash is printed so it can be pinned)
#   MODEL...            models to fetch (default: yolo-fastest-1.1
#                       yolo-fastest-1.1-xl); "all" means every model in --list
#
# yoloswitch finds a model by name in the dir: <name>.cfg, <name>.weights and a
# labels file (<name>.names, or the dataset's file such as coco.names). So each
# model here installs exactly those files, under those names.
#
# YOLOSWITCH_MODEL_MIRROR overrides where files come from: a base URL
# (https://host/path), a local folder (file:///path or a plain path). A mirror
# is flat: it holds every file under the name it gets in the model dir (as
# shared/models does on the project's machines). Hashes are checked the
# same way whatever the source, so a mirror cannot slip in a different file.
#
# Exit status: 0 all requested files present and verified; 1 some file failed
# (each one is named on stderr); 2 bad usage.
set -euo pipefail

# ---------------------------------------------------------------------------
# The table. One row per (model, file): MODEL FILE SHA256 SOURCE.
#   SHA256 "-" means no hash was found in public material: such a file is
#   refused unless --allow-unverified is given.
#   SOURCE "inline:WORD" means the file is the single line WORD, written here
#   (no upstream file was found for it; see below). Case matters: the
#   project's face.names says "Face", its body.names "body".
# Files shared by several models (coco.names) are listed under each of them
# and fetched once.
#
# Where the hashes come from:
# * Yolo-Fastest, MobileNetV2-YOLOv3-Nano, yoloface-500k, YOLO-LITE, coco.names,
#   voc.names, body.names, face.names: the project's copies of the upstream
#   files (shared/models/SHA256SUMS). Each cfg was also compared with the cfg
#   stored at the URL below (same size, same text where read in full).
# * yolov3 / yolov3-tiny: the hashes several public projects pin for these
#   exact URLs, e.g. Emgu CV's Emgu.CV.Models.Yolo downloader, the AUR
#   zmeventnotification PKGBUILD (sha256sums for yolov3.cfg, coco.names,
#   yolov3.weights, yolov3-tiny.cfg, yolov3-tiny.weights), a TensorFlow-Keras
#   YOLO "download" module, and OpenVINO Open Model Zoo's yolov3-tiny model.yml
#   (which also gives the sizes: cfg 1915 B, weights 35434956 B). The two cfg
#   hashes are also those of Debian's darknet package
#   (/usr/share/darknet/cfg/, Debian's snapshot of pjreddie/darknet at commit
#   61c9d02e, 2018-09-14), and coco.names/voc.names match
#   /usr/share/darknet/data/.
# * body.names / face.names: Yolo-Fastest's body.data names "./body.names" and
#   yoloface-500k's face.data names "label.names", but neither file was found
#   upstream; both are one-class, one-line files, so they are written here and
#   still checked against the project's hashes.
# ---------------------------------------------------------------------------
FASTEST=https://raw.githubusercontent.com/dog-qiuqiu/Yolo-Fastest/master/ModelZoo
MOBILENET=https://raw.githubusercontent.com/dog-qiuqiu/MobileNet-Yolo/master
LITE=https://raw.githubusercontent.com/reu2018DL/YOLO-LITE/master
DARKNET=https://raw.githubusercontent.com/pjreddie/darknet/master
PJREDDIE=https://pjreddie.com/media/files

MODEL_TABLE=$(cat <<EOF
yolo-fastest-1.1             yolo-fastest-1.1.cfg                 f6df5775c1e862998cf69046eba9265be3ae84dfe8b2caab7529823f0795bf70  $FASTEST/yolo-fastest-1.1_coco/yolo-fastest-1.1.cfg
yolo-fastest-1.1             yolo-fastest-1.1.weights             1c445c42bbd6df63edea2cc69f99667b5650d663ca11e34b116240740cd42890  $FASTEST/yolo-fastest-1.1_coco/yolo-fastest-1.1.weights
yolo-fastest-1.1             coco.names                           634a1132eb33f8091d60f2c346ababe8b905ae08387037aed883953b7329af84  $DARKNET/data/coco.names

yolo-fastest-1.1-xl          yolo-fastest-1.1-xl.cfg              c458427acc4fbeabceff4528ef7b65b066c0308ce599460f8ba299eba63abad3  $FASTEST/yolo-fastest-1.1_coco/yolo-fastest-1.1-xl.cfg
yolo-fastest-1.1-xl          yolo-fastest-1.1-xl.weights          fac5fb41786c1f38f04972a658443b189f48720d7d117f9a044100e98a35b0c5  $FASTEST/yolo-fastest-1.1_coco/yolo-fastest-1.1-xl.weights
yolo-fastest-1.1-xl          coco.names                           634a1132eb33f8091d60f2c346ababe8b905ae08387037aed883953b7329af84  $DARKNET/data/coco.names

yolo-fastest-1.1_body        yolo-fastest-1.1_body.cfg            045b8e276ebe3924474da8c866b7e709159ea067137b5d66bf9dd560411b2c1a  $FASTEST/yolo-fastest-1.1_body/yolo-fastest-1.1_body.cfg
yolo-fastest-1.1_body        yolo-fastest-1.1_body.weights        5bbb6d878f6e2eb3deee39e91dc6f9b39700e99ec83fa94d258670a554949728  $FASTEST/yolo-fastest-1.1_body/yolo-fastest-1.1_body.weights
yolo-fastest-1.1_body        body.names                           9e2ec912af5dff2a72300863864fc4da04e81999339d9fac5c7590ba8a3f4e11  inline:body

MobileNetV2-YOLOv3-Nano-coco MobileNetV2-YOLOv3-Nano-coco.cfg     f9c93b9167275c94975984c8b1d8adbff990f2e3a983adc79d02e748d6ed763b  $MOBILENET/MobileNetV2-YOLOv3-Nano/COCO/MobileNetV2-YOLOv3-Nano-coco.cfg
MobileNetV2-YOLOv3-Nano-coco MobileNetV2-YOLOv3-Nano-coco.weights 60a6c2a86735fd39ff54d61f9a16f3ac3fe24a8b2e0d7740585bf2b54a5db81a  $MOBILENET/MobileNetV2-YOLOv3-Nano/COCO/MobileNetV2-YOLOv3-Nano-coco.weights
MobileNetV2-YOLOv3-Nano-coco coco.names                           634a1132eb33f8091d60f2c346ababe8b905ae08387037aed883953b7329af84  $DARKNET/data/coco.names

yoloface-500k                yoloface-500k.cfg                    03ccc286ff6c1b6ae06b73e9b7d22e8adbaf315064bafcf18acc52ad593d601d  $MOBILENET/yoloface-500k/v1/yoloface-500k.cfg
yoloface-500k                yoloface-500k.weights                271ff333aecdd11928e8da4d20bf6d398e1d0631f39aaec3e50be26135c3279f  $MOBILENET/yoloface-500k/v1/yoloface-500k.weights
yoloface-500k                face.names                           5b12b7b4d08018af28ce06dff4c0fb3c9da8e28cf8d8bacbe978a45f1130af22  inline:Face

yolo-lite-coco               yolo-lite-coco.cfg                   75f26b88b0ec988aae1410ad42a5b4ae5fcfddfc7458ce8d38d9a7a619780534  $LITE/cococfg/trial6.cfg
yolo-lite-coco               yolo-lite-coco.weights               36db3caea3f836f702994f264a895d31f5f5a80d4d007abdc006b27a4389aaf2  $LITE/cocoweights/trial6_653550.weights
yolo-lite-coco               coco.names                           634a1132eb33f8091d60f2c346ababe8b905ae08387037aed883953b7329af84  $DARKNET/data/coco.names

yolo-lite-voc                yolo-lite-voc.cfg                    e7c402cb11f48a052211d1029bd4e9dac89ca2d683faaa732f6ac3a25eb9fb59  $LITE/cfg/tiny-yolov2-trial3-noBatch.cfg
yolo-lite-voc                yolo-lite-voc.weights                2d01f30cd69ea9c3dd895e533f252720de46f68a9810c31a5e2fbd6ab95b9dc2  $LITE/weights/tiny-yolov2-trial3-noBatch.weights
yolo-lite-voc                voc.names                            f14861775969fd006b382e005f96dc811ef062ea4a37356efb70d7775e90f743  $DARKNET/data/voc.names

yolov3-tiny                  yolov3-tiny.cfg                      84eb7a675ef87c906019ff5a6e0effe275d175adb75100dcb47f0727917dc2c7  $DARKNET/cfg/yolov3-tiny.cfg
yolov3-tiny                  yolov3-tiny.weights                  dccea06f59b781ec1234ddf8d1e94b9519a97f4245748a7d4db75d5b7080a42c  $PJREDDIE/yolov3-tiny.weights
yolov3-tiny                  coco.names                           634a1132eb33f8091d60f2c346ababe8b905ae08387037aed883953b7329af84  $DARKNET/data/coco.names

yolov3                       yolov3.cfg                           22489ea38575dfa36c67a90048e8759576416a79d32dc11e15d2217777b9a953  $DARKNET/cfg/yolov3.cfg
yolov3                       yolov3.weights                       523e4e69e1d015393a1b0a441cef1d9c7659e3eb2d7e15f793f060a21b32f297  $PJREDDIE/yolov3.weights
yolov3                       coco.names                           634a1132eb33f8091d60f2c346ababe8b905ae08387037aed883953b7329af84  $DARKNET/data/coco.names
EOF
)

DEFAULT_MODELS=(yolo-fastest-1.1 yolo-fastest-1.1-xl)

PROG=fetch-models

# ---------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------
say() { printf '%s: %s\n' "$PROG" "$*"; }
warn() { printf '%s: %s\n' "$PROG" "$*" >&2; }
usage_error() {
  warn "$*"
  warn "run '$0 --help' for usage"
  exit 2
}

usage() {
  # The header comment is the documentation: print it, without the '# '.
  sed -n '2,/^set -euo pipefail/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"
}

# Temp files still to remove if we stop early (error, Ctrl-C): a half-written
# download must never be left behind looking like a model file.
TMP_FILES=()
cleanup() {
  local f
  for f in "${TMP_FILES[@]+"${TMP_FILES[@]}"}"; do
    rm -f -- "$f"
  done
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum -- "$1" | cut -d' ' -f1
  elif command -v shasum >/dev/null 2>&1; then
    shasum -a 256 -- "$1" | cut -d' ' -f1
  else
    warn "need sha256sum (GNU coreutils) or shasum to verify files; install one"
    exit 1
  fi
}

# ---------------------------------------------------------------------------
# The table, parsed into parallel arrays (one index per row).
# ---------------------------------------------------------------------------
T_MODEL=() T_FILE=() T_SHA=() T_URL=()
load_table() {
  local model file sha url
  while read -r model file sha url; do
    [[ -z $model || $model == \#* ]] && continue
    T_MODEL+=("$model") T_FILE+=("$file") T_SHA+=("$sha") T_URL+=("$url")
  done <<<"$MODEL_TABLE"
}

# Every model name, once, in table order.
known_models() {
  local i seen=" "
  for i in "${!T_MODEL[@]}"; do
    if [[ $seen != *" ${T_MODEL[i]} "* ]]; then
      seen+="${T_MODEL[i]} "
      printf '%s\n' "${T_MODEL[i]}"
    fi
  done
}

is_known_model() {
  local m
  for m in "${T_MODEL[@]}"; do [[ $m == "$1" ]] && return 0; done
  return 1
}

# Row indexes for the given models, each file once (coco.names is shared).
rows_for_models() {
  local model i seen=" "
  for model in "$@"; do
    for i in "${!T_MODEL[@]}"; do
      [[ ${T_MODEL[i]} == "$model" ]] || continue
      [[ $seen == *" ${T_FILE[i]} "* ]] && continue
      seen+="${T_FILE[i]} "
      printf '%s\n' "$i"
    done
  done
}

is_unverified() { [[ ${T_SHA[$1]} == - ]]; }

# ---------------------------------------------------------------------------
# Getting one file
# ---------------------------------------------------------------------------

# Where row's file comes from: its upstream URL, or the mirror when one is set.
# Prints either a URL (scheme://...), a local path, or inline:WORD.
source_of() {
  local i=$1 mirror=${YOLOSWITCH_MODEL_MIRROR:-}
  if [[ ${T_URL[i]} == inline:* || -z $mirror ]]; then
    printf '%s\n' "${T_URL[i]}"
    return
  fi
  mirror=${mirror%/}
  case $mirror in
    file://*) printf '%s/%s\n' "${mirror#file://}" "${T_FILE[i]}" ;;
    *) printf '%s/%s\n' "$mirror" "${T_FILE[i]}" ;;  # URL or plain path
  esac
}

# Copies or downloads SRC into the existing file DEST. Returns non-zero (after
# saying why) when the source cannot be read.
fetch_into() {
  local src=$1 dest=$2
  case $src in
    inline:*)
      printf '%s\n' "${src#inline:}" >"$dest"
      ;;
    http://* | https://* | ftp://*)
      if command -v curl >/dev/null 2>&1; then
        local progress=(-sS)
        [[ -t 2 ]] && progress=(--progress-bar)
        curl -fL --retry 3 --connect-timeout 30 "${progress[@]}" -o "$dest" "$src" || {
          warn "download failed: $src (check the network, or set YOLOSWITCH_MODEL_MIRROR to a copy)"
          return 1
        }
      elif command -v wget >/dev/null 2>&1; then
        wget -q --tries=3 --timeout=30 -O "$dest" "$src" || {
          warn "download failed: $src (check the network, or set YOLOSWITCH_MODEL_MIRROR to a copy)"
          return 1
        }
      else
        warn "need curl or wget to download $src; install one (apt-get install curl)"
        return 1
      fi
      ;;
    *://*)
      warn "unsupported source $src: use http(s)://, ftp://, file:// or a plain path"
      return 1
      ;;
    *)
      if [[ ! -r $src ]]; then
        warn "cannot read $src (YOLOSWITCH_MODEL_MIRROR=${YOLOSWITCH_MODEL_MIRROR:-}): is the mirror complete?"
        return 1
      fi
      cp -- "$src" "$dest"
      ;;
  esac
}

# Puts row's file in DIR: skip if already right, else fetch to a temp file in
# DIR (same filesystem, so the final mv is an atomic rename), verify, move.
install_row() {
  local i=$1 dir=$2
  local file=${T_FILE[i]} want=${T_SHA[i]}
  local dest=$dir/$file src tmp got

  if [[ -f $dest ]]; then
    got=$(sha256_of "$dest")
    if is_unverified "$i"; then
      if ((ALLOW_UNVERIFIED)); then
        say "kept $file (unverified; sha256 $got)"
        return 0
      fi
      warn "$dest is present but the table pins no hash for it (sha256 $got);"
      warn "  re-run with --allow-unverified to accept it, and pin that hash in $0"
      return 1
    fi
    if [[ $got == "$want" ]]; then
      say "ok $file (already present)"
      return 0
    fi
    say "$file has the wrong hash ($got); fetching it again"
  fi

  src=$(source_of "$i")
  if [[ $src == inline:* ]]; then
    say "writing $file (the one line \"${src#inline:}\")"
  else
    say "fetching $file from $src"
  fi
  tmp=$(mktemp "$dir/.$file.part.XXXXXX")
  TMP_FILES+=("$tmp")
  if ! fetch_into "$src" "$tmp"; then
    rm -f -- "$tmp"
    return 1
  fi
  got=$(sha256_of "$tmp")

  if is_unverified "$i"; then
    if ((!ALLOW_UNVERIFIED)); then
      rm -f -- "$tmp"
      warn "refusing $file: no pinned sha256 to check it against (got $got from $src)."
      warn "  If you trust the source, re-run with --allow-unverified and pin that hash in $0"
      return 1
    fi
    warn "accepting unverified $file (sha256 $got); pin this hash in $0"
  elif [[ $got != "$want" ]]; then
    rm -f -- "$tmp"
    warn "checksum mismatch for $file from $src:"
    warn "  expected sha256 $want"
    warn "  actual   sha256 $got"
    if [[ -f $dest ]]; then
      warn "  the download was deleted and the existing $dest left untouched."
    else
      warn "  the download was deleted; nothing was installed."
    fi
    warn "  Retry (a download may have been cut short), or check the source/mirror."
    return 1
  fi

  chmod 0644 "$tmp"
  mv -f -- "$tmp" "$dest"
  if is_unverified "$i"; then
    say "installed $file (unverified)"
  else
    say "ok $file (sha256 verified)"
  fi
}

# Verifies row's file in DIR without fetching anything.
check_row() {
  local i=$1 dir=$2
  local file=${T_FILE[i]} want=${T_SHA[i]}
  local dest=$dir/$file got
  if [[ ! -f $dest ]]; then
    warn "missing: $dest"
    return 1
  fi
  got=$(sha256_of "$dest")
  if is_unverified "$i"; then
    if ((ALLOW_UNVERIFIED)); then
      say "unverified $file (sha256 $got; no pinned hash)"
      return 0
    fi
    warn "unverified: $dest has no pinned hash (sha256 $got); pass --allow-unverified to accept it"
    return 1
  fi
  if [[ $got != "$want" ]]; then
    warn "mismatch: $dest"
    warn "  expected sha256 $want"
    warn "  actual   sha256 $got"
    return 1
  fi
  say "ok $file"
}

list_table() {
  local i mark
  printf '%-1s %-28s %-36s %-64s %s\n' '' MODEL FILE SHA256 SOURCE
  for i in "${!T_MODEL[@]}"; do
    mark=' '
    [[ " ${DEFAULT_MODELS[*]} " == *" ${T_MODEL[i]} "* ]] && mark='*'
    printf '%-1s %-28s %-36s %-64s %s\n' "$mark" "${T_MODEL[i]}" "${T_FILE[i]}" \
      "$(is_unverified "$i" && echo UNVERIFIED || echo "${T_SHA[i]}")" "${T_URL[i]}"
  done
  echo "(* = fetched by default)"
}

# ---------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------
main() {
  local dir=${XDG_DATA_HOME:-$HOME/.local/share}/yoloswitch/models
  local mode=fetch models=() m i
  ALLOW_UNVERIFIED=0

  while (($#)); do
    case $1 in
      --dir) (($# >= 2)) || usage_error "--dir needs a directory"; dir=$2; shift ;;
      --dir=*) dir=${1#--dir=} ;;
      --list) mode=list ;;
      --check) mode=check ;;
      --allow-unverified) ALLOW_UNVERIFIED=1 ;;
      -h | --help) usage; exit 0 ;;
      --) shift; models+=("$@"); break ;;
      -*) usage_error "unknown option $1" ;;
      *) models+=("$1") ;;
    esac
    shift
  done
  [[ -n $dir ]] || usage_error "--dir must not be empty"

  load_table

  if [[ $mode == list ]]; then
    list_table
    exit 0
  fi

  ((${#models[@]})) || models=("${DEFAULT_MODELS[@]}")
  # What to tell the user to re-run: the models as they named them.
  local again="$0 --dir '$dir' ${models[*]}"
  if [[ " ${models[*]} " == *" all "* ]]; then
    mapfile -t models < <(known_models)
  fi
  for m in "${models[@]}"; do
    is_known_model "$m" || usage_error "unknown model '$m'; known: $(known_models | tr '\n' ' ')"
  done

  local rows failed=()
  mapfile -t rows < <(rows_for_models "${models[@]}")

  if [[ $mode == check ]]; then
    if [[ ! -d $dir ]]; then
      warn "model dir $dir does not exist; run $again to fetch"
      exit 1
    fi
    for i in "${rows[@]}"; do
      check_row "$i" "$dir" || failed+=("${T_FILE[i]}")
    done
    if ((${#failed[@]})); then
      warn "check failed for ${#failed[@]} file(s) in $dir: ${failed[*]}"
      warn "run $again to fetch them again"
      exit 1
    fi
    say "all ${#rows[@]} file(s) for ${models[*]} verified in $dir"
    exit 0
  fi

  # Say once, before touching anything, that there is no way to download.
  if ! command -v curl >/dev/null 2>&1 && ! command -v wget >/dev/null 2>&1; then
    for i in "${rows[@]}"; do
      if [[ $(source_of "$i") == *://* && ! -f $dir/${T_FILE[i]} ]]; then
        warn "need curl or wget to download ${T_FILE[i]} and others; install one (apt-get install curl),"
        warn "  or set YOLOSWITCH_MODEL_MIRROR to a local folder holding the files"
        exit 1
      fi
    done
  fi

  mkdir -p -- "$dir" || { warn "cannot create model dir $dir; pick another with --dir"; exit 1; }
  [[ -w $dir ]] || { warn "model dir $dir is not writable; pick another with --dir"; exit 1; }
  for i in "${rows[@]}"; do
    install_row "$i" "$dir" || failed+=("${T_FILE[i]}")
  done
  if ((${#failed[@]})); then
    warn "failed: ${failed[*]}; no unverified file was put in $dir"
    exit 1
  fi
  say "${models[*]}: ${#rows[@]} file(s) in $dir"
}

main "$@"
