package check

import (
	"fmt"

	"socketlab/labctl/scenario"
)

// describeImpair names an impair or heal step for reports:
// "impair client:front (loss 20%)", "heal client", "heal the lab".
func describeImpair(st *scenario.Step) string {
	where := st.Node
	switch {
	case st.Node == "":
		where = "the lab"
	case st.Network != "":
		where += ":" + st.Network
	}
	if st.Action == scenario.ActionHeal || st.Impair == nil {
		return fmt.Sprintf("%s %s", st.Action, where)
	}
	return fmt.Sprintf("%s %s (%s)", st.Action, where, st.Impair)
}
