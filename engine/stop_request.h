// A polite stop: SIGTERM or SIGINT (a time limit's `timeout`, a scheduler's preemption, Ctrl-C)
// asks the training loop to save a checkpoint and exit at its next log interval; a second signal
// ends the process at once.
#pragma once

// Installs the handlers; the first signal only sets a flag (all a handler may safely do) and says
// on stderr what will happen.
void install_stop_request_handlers();

// Whether a stop was asked for in this process. Ranks must agree before acting on it (each process
// of an MPI job sees its own signal, the threads of one process see it at different steps).
bool stop_requested();
