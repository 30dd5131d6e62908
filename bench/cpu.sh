#!/usr/bin/env bash
# One line naming this CPU for the benchmark tables: the model name, which on cloud
# machines is often only "AMD EPYC", so also the family/model numbers, the AMD core
# generation they mean, and the widest vector set (which CPU path `auto` takes).
set -euo pipefail
field() { grep -m1 -E "^$1[[:space:]]*:" /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'; }
name=$(field 'model name')
vendor=$(field vendor_id)
family=$(field 'cpu family')
model=$(field model)
gen=""
if [ "$vendor" = AuthenticAMD ]; then
  case "$family" in
    23) gen="Zen/Zen 2" ;;
    25) if (( (model >= 16 && model <= 31) || (model >= 96 && model <= 127) || (model >= 160 && model <= 175) ))
        then gen="Zen 4"; else gen="Zen 3"; fi ;;
    26) gen="Zen 5" ;;
  esac
fi
if grep -qw avx512f /proc/cpuinfo; then isa="AVX-512F"
elif grep -qw avx2 /proc/cpuinfo && grep -qw fma /proc/cpuinfo; then isa="AVX2+FMA"
else isa="no AVX2"; fi
echo "$name (family $family model $model${gen:+, $gen}; $isa), $(nproc) cores"
