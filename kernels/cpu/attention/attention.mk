# kernels/cpu/attention/attention.mk - the attention-forward family in the
# CPU harness (kernels/cpu/cpu.mk links family.c into $(O)/spak-harness-cpu and call.c
# into $(O)/spak-runner-cpu).

CPU_FAMILIES     += attention
CPU_FAMILY_OBJS  += $(O)/obj/kernels/cpu/attention/family.o
CPU_CALLER_OBJS  += $(O)/obj/kernels/cpu/attention/call.o
