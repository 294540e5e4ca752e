// What Swift cannot call directly: prctl(2) is variadic, and Swift imports no variadic C.
#ifndef CLAB_SUPPORT_H
#define CLAB_SUPPORT_H

/// Asks the kernel to send `signal` to this process when its parent dies (PR_SET_PDEATHSIG);
/// 0 on success, -1 where the platform has no such call.
int clab_set_parent_death_signal(int signal);

#endif
