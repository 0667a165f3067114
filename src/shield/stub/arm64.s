// lsm shield's exec stub for arm64 Linux (src/shield/stub.ts says why it exists).
// Run as: stub FILE ARGV0 ARGS..., with the Landlock ruleset on fd 3 and this stub's own
// image (a memfd) on fd 4. It restricts itself: no_new_privs, then landlock_restrict_self;
// closes both descriptors; and execs FILE with ARGV0 ARGS... and the environment it got.
// Nothing runs between the fork and the restriction but these instructions, and no thread
// of lsm shield's own process ever enters the sandbox.
// On failure it says so on stderr and exits 125 (not restricted: nothing ran), else 127
// (FILE not found) or 126 (FILE could not be run). Rebuild: node scripts/stub.mjs
	.section .note.GNU-stack,"",@progbits
	.section .rodata
msg:
	.ascii	"lsm shield: the sandbox could not be entered or the command not started; it did not run\n"
	.set	len, . - msg
	.text
	.globl	_start
_start:
	mov	x0, #38			// prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
	mov	x1, #1
	mov	x2, #0
	mov	x3, #0
	mov	x4, #0
	mov	x8, #167
	svc	#0
	cbnz	x0, refused
	mov	x0, #3			// landlock_restrict_self(3, 0)
	mov	x1, #0
	mov	x8, #446
	svc	#0
	cbnz	x0, refused
	mov	x0, #3			// close(3); close(4)
	mov	x8, #57
	svc	#0
	mov	x0, #4
	mov	x8, #57
	svc	#0
	ldr	x9, [sp]		// argc
	cmp	x9, #3
	b.lo	refused
	ldr	x0, [sp, #16]		// execve(argv[1], &argv[2], envp)
	add	x1, sp, #24
	add	x2, sp, #16
	add	x2, x2, x9, lsl #3	// envp = &argv[argc + 1]
	mov	x8, #221
	svc	#0
	mov	x19, #127		// exec failed: 127 after ENOENT, else 126
	cmn	x0, #2
	b.eq	say
	mov	x19, #126
	b	say
refused:
	mov	x19, #125
say:
	mov	x0, #2			// write(2, msg, len)
	adr	x1, msg
	mov	x2, #len
	mov	x8, #64
	svc	#0
	mov	x0, x19			// exit_group(code)
	mov	x8, #94
	svc	#0
