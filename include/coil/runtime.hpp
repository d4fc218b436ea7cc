#pragma once
// The whole runtime layer in one include: #include <coil/runtime.hpp>. coil's own sources
// include the specific headers instead.

#include "coil/runtime/acceptor.hpp"
#include "coil/runtime/backend_kind.hpp"
#include "coil/runtime/cancel.hpp"
#include "coil/runtime/errc.hpp"
#include "coil/runtime/event_loop.hpp"
#include "coil/runtime/interval.hpp"
#include "coil/runtime/io.hpp"
#include "coil/runtime/io_handle.hpp"
#include "coil/runtime/log.hpp"
#include "coil/runtime/result.hpp"
#include "coil/runtime/shield.hpp"
#include "coil/runtime/signal_set.hpp"
#include "coil/runtime/sleep.hpp"
#include "coil/runtime/task.hpp"
#include "coil/runtime/task_group.hpp"
#include "coil/runtime/transfer_result.hpp"
#include "coil/runtime/unique_fd.hpp"
#include "coil/runtime/when_all.hpp"
#include "coil/runtime/when_any.hpp"
#include "coil/runtime/with_timeout.hpp"
