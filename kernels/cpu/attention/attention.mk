# kernels/cpu/attention/attention.mk - the attention-forward family in the
# CPU harness (kernels/cpu/cpu.mk links it into $(O)/spak-harness-cpu).

CPU_FAMILIES     += attention
CPU_FAMILY_OBJS  += $(O)/obj/kernels/cpu/attention/family.o
