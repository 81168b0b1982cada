// A polite stop: SIGTERM or SIGINT (a time limit's `timeout`, a scheduler's preemption, Ctrl-C)
// asks the training loop to save a checkpoint and exit at its next log interval; a second signal,
// 2 s or more after the first, ends the process at once. SIGUSR1 asks the same: under mpirun,
// which kills the job a second after a SIGTERM but passes SIGUSR1 on to every rank, it is the one
// to send.
#pragma once

// Installs the handlers; the first signal only sets a flag (all a handler may safely do) and says
// on stderr what will happen. Under mpirun SIGTERM keeps its default action (see the .cpp).
void install_stop_request_handlers(bool under_mpirun = false);

// Whether a stop was asked for in this process. Ranks must agree before acting on it (each process
// of an MPI job sees its own signal, the threads of one process see it at different steps).
bool stop_requested();
