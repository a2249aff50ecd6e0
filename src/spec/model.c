/*
 * model.c - lookups in a checked model (model.h).
 */
#include "spec/model.h"

#include <string.h>

const spak_fact_def *spak_model_fact(const spak_model *m, const char *name)
{
    for (size_t i = 0; i < m->n_facts; i++)
        if (strcmp(m->facts[i].name, name) == 0)
            return &m->facts[i];
    return NULL;
}

const spak_param_def *spak_model_param(const spak_model *m, const char *name)
{
    for (size_t i = 0; i < m->n_design; i++)
        if (strcmp(m->design[i].name, name) == 0)
            return &m->design[i];
    for (size_t i = 0; i < m->n_tuning; i++)
        if (strcmp(m->tuning[i].name, name) == 0)
            return &m->tuning[i];
    /* a loop's own `parameter P: [...]`; its copies of design and tuning
     * parameters were found above, and skipping them keeps this short */
    for (size_t l = 0; l < m->n_loops; l++)
        for (size_t i = 0; i < m->loops[l].n_params; i++)
            if (strcmp(m->loops[l].params[i].origin, "parameter") == 0 &&
                strcmp(m->loops[l].params[i].name, name) == 0)
                return &m->loops[l].params[i];
    return NULL;
}

const spak_loop_def *spak_model_loop(const spak_model *m, const char *name)
{
    for (size_t i = 0; i < m->n_loops; i++)
        if (strcmp(m->loops[i].name, name) == 0)
            return &m->loops[i];
    return NULL;
}
