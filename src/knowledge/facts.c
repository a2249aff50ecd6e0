/* facts.c - predicate facts on the newest records (facts.h). */
#include "knowledge/facts.h"

json_t *spak_facts_eval(const spak_model *m, const spak_eval_env *env)
{
    json_t *facts = json_object();
    for (size_t i = 0; i < m->n_facts; i++) {
        const spak_fact_def *f = &m->facts[i];
        if (!f->predicate || !f->body)
            continue;
        if (!env->latest(env->ud, f->tcase ? f->tcase->name : NULL))
            continue;
        spak_value v;
        spak_err ee;
        if (spak_eval_fact(f, NULL, env, &v, &ee) == SPAK_OK)
            json_object_set_new(facts, f->name, json_boolean(v.b));
        else
            json_object_set_new(facts, f->name, json_pack("{s:s}", "error", ee.msg));
    }
    return facts;
}
