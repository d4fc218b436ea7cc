#pragma once
// The whole runtime layer in one include, for applications. coil's own sources include the
// specific headers instead.

#include "runtime/acceptor.hpp"
#include "runtime/backend_kind.hpp"
#include "runtime/cancel.hpp"
#include "runtime/errc.hpp"
#include "runtime/event_loop.hpp"
#include "runtime/io.hpp"
#include "runtime/io_handle.hpp"
#include "runtime/log.hpp"
#include "runtime/result.hpp"
#include "runtime/signal_set.hpp"
#include "runtime/sleep.hpp"
#include "runtime/task.hpp"
#include "runtime/task_group.hpp"
#include "runtime/unique_fd.hpp"
#include "runtime/when_all.hpp"
#include "runtime/when_any.hpp"
#include "runtime/with_timeout.hpp"
