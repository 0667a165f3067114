# lsm shield's exec stub for x86-64 Linux (src/shield/stub.ts says why it exists).
# Run as: stub FILE ARGV0 ARGS..., with the Landlock ruleset on fd 3 and this stub's own
# image (a memfd) on fd 4. It restricts itself: no_new_privs, then landlock_restrict_self;
# closes both descriptors; and execs FILE with ARGV0 ARGS... and the environment it got.
# Nothing runs between the fork and the restriction but these instructions, and no thread
# of lsm shield's own process ever enters the sandbox.
# On failure it says so on stderr and exits 125 (not restricted: nothing ran), else 127
# (FILE not found) or 126 (FILE could not be run). Rebuild: node scripts/stub.mjs
	.section .note.GNU-stack,"",@progbits
	.globl _start
	.text
_start:
	mov	$38, %edi		# prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
	mov	$1, %esi
	xor	%edx, %edx
	xor	%r10d, %r10d
	xor	%r8d, %r8d
	mov	$157, %eax
	syscall
	test	%rax, %rax
	jnz	refused
	mov	$3, %edi		# landlock_restrict_self(3, 0)
	xor	%esi, %esi
	mov	$446, %eax
	syscall
	test	%rax, %rax
	jnz	refused
	mov	$3, %edi		# close(3); close(4)
	mov	$3, %eax
	syscall
	mov	$4, %edi
	mov	$3, %eax
	syscall
	mov	(%rsp), %rcx		# argc
	cmp	$3, %rcx
	jb	refused
	mov	16(%rsp), %rdi		# execve(argv[1], &argv[2], envp)
	lea	24(%rsp), %rsi
	lea	16(%rsp,%rcx,8), %rdx	# envp = &argv[argc + 1]
	mov	$59, %eax
	syscall
	mov	$127, %ebx		# exec failed: 127 after ENOENT, else 126
	cmp	$-2, %rax
	je	say
	mov	$126, %ebx
	jmp	say
refused:
	mov	$125, %ebx
say:
	mov	$2, %edi		# write(2, msg, len)
	lea	msg(%rip), %rsi
	mov	$len, %edx
	mov	$1, %eax
	syscall
	mov	%ebx, %edi		# exit_group(code)
	mov	$231, %eax
	syscall
msg:
	.ascii	"lsm shield: the sandbox could not be entered or the command not started; it did not run\n"
	.set	len, . - msg
